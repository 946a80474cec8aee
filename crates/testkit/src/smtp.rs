//! A real SMTP server for tests: Python's aiosmtpd on 127.0.0.1 and a free
//! port, driven by `smtp_sink.py` in this crate, recording every message it
//! accepts (raw bytes and envelope) so tests can assert what arrived.
//!
//! It can offer STARTTLS or implicit TLS (with a certificate made by
//! [`TestTls::generate`]), require a login, refuse recipients or messages,
//! and drop the connection at chosen moments, e.g. after the whole message
//! arrived but before the reply (the "in doubt" case).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_sink.py");

/// Where the sink closes the connection without replying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropAt {
    /// On MAIL FROM: nothing was sent yet.
    MailFrom,
    /// After the whole message arrived (and was recorded), before the
    /// final reply.
    AfterData,
}

/// How the sink behaves. `Default`: plain SMTP, accepts everything.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    pub starttls: Option<TestTls>,
    pub require_starttls: bool,
    pub implicit_tls: Option<TestTls>,
    /// Required login (user, password).
    pub auth: Option<(String, String)>,
    /// Reply to every RCPT, e.g. "550 5.1.1 no such user".
    pub rcpt_reply: Option<String>,
    /// Reply to every message instead of accepting it.
    pub data_reply: Option<String>,
    pub drop_at: Option<DropAt>,
    /// Drop only the first N times.
    pub drop_count: Option<u32>,
    pub idle_timeout: Option<Duration>,
    /// Count messages without writing them (benchmarks).
    pub no_record: bool,
}

/// One message as the sink received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// As written in the header, with angle brackets.
    pub message_id: Option<String>,
    pub data: Vec<u8>,
}

/// A running sink; killed when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    _stdin: ChildStdin,
    received: Arc<AtomicUsize>,
    stderr: Arc<Mutex<String>>,
}

impl SmtpSink {
    /// Starts the sink. `None` (after a loud SKIP line) when aiosmtpd cannot
    /// be had outside CI; under `CI=true` that fails the test instead.
    pub fn start(options: &SinkOptions) -> Option<SmtpSink> {
        if !crate::python::require("aiosmtpd", &["aiosmtpd"], "this SMTP test") {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary folder for the SMTP sink");
        let mut command = Command::new("python3");
        command.arg("-u").arg(SCRIPT).arg("--out").arg(dir.path());
        if let Some(tls) = &options.starttls {
            command.arg("--starttls").arg(&tls.cert).arg(&tls.key);
        }
        if options.require_starttls {
            command.arg("--require-starttls");
        }
        if let Some(tls) = &options.implicit_tls {
            command.arg("--implicit-tls").arg(&tls.cert).arg(&tls.key);
        }
        if let Some((user, password)) = &options.auth {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        if let Some(reply) = &options.rcpt_reply {
            command.arg("--rcpt-reply").arg(reply);
        }
        if let Some(reply) = &options.data_reply {
            command.arg("--data-reply").arg(reply);
        }
        if let Some(step) = options.drop_at {
            command.arg("--drop-at").arg(match step {
                DropAt::MailFrom => "mail",
                DropAt::AfterData => "after-data",
            });
        }
        if let Some(count) = options.drop_count {
            command.arg("--drop-count").arg(count.to_string());
        }
        if let Some(timeout) = options.idle_timeout {
            command
                .arg("--idle-timeout")
                .arg(timeout.as_secs_f64().to_string());
        }
        if options.no_record {
            command.arg("--no-record");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut chunk = [0_u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });

        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(port.trim().parse::<u16>().ok());
                } else if line.starts_with("MSG ") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });

        let mut sink = SmtpSink {
            port: 0,
            dir,
            child,
            _stdin: stdin,
            received,
            stderr,
        };
        match ready_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => sink.port = port,
            other => panic!(
                "the SMTP sink did not start ({other:?}); stderr:\n{}",
                sink.stderr.lock().unwrap()
            ),
        }
        Some(sink)
    }

    /// Messages accepted so far (also counted with `no_record`).
    pub fn received_count(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    /// Every recorded message, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("the sink folder")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension().is_some_and(|e| e == "json")
                    && !path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        names.iter().map(|path| read_message(path)).collect()
    }

    /// Waits until at least `count` messages were accepted (or `limit`
    /// passes), then returns the recorded ones.
    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + limit;
        while self.received_count() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The count is printed after the files are written.
        self.messages()
    }

    /// How many times each Message-ID arrived.
    pub fn count_by_message_id(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for message in self.messages() {
            let id = message.message_id.unwrap_or_default();
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    /// What the server wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn read_message(json_path: &Path) -> ReceivedMessage {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_path).expect("the sink's envelope file"))
            .expect("the sink writes JSON");
    let data = std::fs::read(json_path.with_extension("eml")).expect("the sink's message file");
    ReceivedMessage {
        mail_from: meta["mail_from"].as_str().unwrap_or_default().to_owned(),
        rcpt_tos: meta["rcpt_tos"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        message_id: meta["message_id"].as_str().map(str::to_owned),
        data,
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority and a server certificate it signed for
/// `localhost` and 127.0.0.1, made with the `openssl` command.
#[derive(Debug, Clone)]
pub struct TestTls {
    _dir: Arc<tempfile::TempDir>,
    /// The CA certificate a client must trust.
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestTls {
    pub fn generate() -> TestTls {
        let dir = tempfile::tempdir().expect("a temporary folder for certificates");
        let path = |name: &str| dir.path().join(name);
        let ext = path("server.ext");
        std::fs::write(
            &ext,
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("write the extensions file");
        let steps: [Vec<&str>; 3] = [
            vec![
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=handoff test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
            vec![
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        ];
        for args in steps {
            let output = Command::new("openssl")
                .args(&args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .output()
                .expect("the openssl command runs");
            assert!(
                output.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        TestTls {
            ca_cert: path("ca.pem"),
            cert: path("server.pem"),
            key: path("server.key"),
            _dir: Arc::new(dir),
        }
    }
}
