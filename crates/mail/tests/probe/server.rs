//! Servers for the probe to talk to: a real SMTP server (Python's aiosmtpd,
//! driven by `smtp_server.py` next to this file) and raw TCP servers that
//! misbehave on purpose.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probe/smtp_server.py");

fn python_has_aiosmtpd() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether aiosmtpd can be imported, installing it with pip (once per test
/// binary) if not.
pub fn aiosmtpd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if python_has_aiosmtpd() {
            return true;
        }
        eprintln!("aiosmtpd is missing; trying `python3 -m pip install aiosmtpd`");
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
            .stdin(Stdio::null())
            .status();
        python_has_aiosmtpd()
    })
}

/// Returns from the test (with a loud SKIP line) when aiosmtpd cannot be
/// had; fails it instead under `CI=true`.
macro_rules! require_aiosmtpd {
    () => {
        if !server::aiosmtpd_available() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("aiosmtpd is not installed and `pip install aiosmtpd` failed (CI=true)");
            }
            eprintln!(
                "\n********** SKIP: aiosmtpd is not available (python3 -m pip install aiosmtpd); \
                 this SMTP probe test did not run **********\n"
            );
            return;
        }
    };
}
pub(crate) use require_aiosmtpd;

/// How the aiosmtpd server answers RCPT.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    pub accept: Vec<String>,
    pub catch_all: bool,
    pub tempfail: bool,
    pub reject_message: Option<String>,
    pub no_ehlo: bool,
}

impl Behaviour {
    pub fn accepting(addresses: &[&str]) -> Self {
        Self {
            accept: addresses.iter().map(|a| (*a).to_owned()).collect(),
            ..Self::default()
        }
    }
}

/// aiosmtpd on 127.0.0.1, killed on drop.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    _stdin: ChildStdin,
    commands: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl SmtpServer {
    pub fn start(behaviour: &Behaviour) -> Self {
        let mut command = Command::new("python3");
        command.arg("-u").arg(SCRIPT).arg("0");
        for address in &behaviour.accept {
            command.args(["--accept", address]);
        }
        if behaviour.catch_all {
            command.arg("--catch-all");
        }
        if behaviour.tempfail {
            command.arg("--tempfail");
        }
        if let Some(message) = &behaviour.reject_message {
            command.args(["--reject-message", message]);
        }
        if behaviour.no_ehlo {
            command.arg("--no-ehlo");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut chunk = [0_u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&chunk[..n]));
                sink.lock().unwrap().clone_from(&text);
            }
        });

        let commands = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&commands);
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(port.trim().parse::<u16>().ok());
                } else if let Some(command) = line.strip_prefix("CMD ") {
                    log.lock().unwrap().push(command.to_owned());
                }
            }
        });

        let mut server = Self {
            port: 0,
            child,
            _stdin: stdin,
            commands,
            stderr,
        };
        match ready_rx.recv_timeout(Duration::from_secs(15)) {
            Ok(Some(port)) => server.port = port,
            other => panic!(
                "aiosmtpd did not start ({other:?}); stderr:\n{}",
                server.stderr.lock().unwrap()
            ),
        }
        server
    }

    /// The commands the server has received so far, e.g. `RCPT TO:<a@b>`.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }

    /// The commands once the client has said QUIT (waits up to 3 s).
    pub fn commands_after_quit(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let commands = self.commands();
            if commands.iter().any(|c| c == "QUIT") || Instant::now() > deadline {
                return commands;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on `ip` with nothing listening (bound, then released).
pub fn closed_port(ip: Ipv4Addr) -> u16 {
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A raw TCP server on `ip:port` that runs `script` for every connection,
/// with what the clients sent collected. Stops when dropped.
pub struct RawServer {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    pub async fn start<F, Fut>(ip: Ipv4Addr, port: u16, script: F) -> Self
    where
        F: Fn(TcpStream, Arc<Mutex<Vec<u8>>>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind((IpAddr::V4(ip), port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(script(stream, Arc::clone(&log)));
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads whatever the client sends into `log` until it closes or `limit`
/// passes.
pub async fn drain(stream: &mut TcpStream, log: &Mutex<Vec<u8>>, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        let mut chunk = [0_u8; 1024];
        while let Ok(n) = stream.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            log.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    })
    .await;
}

/// Writes `bytes` over and over until the client goes away or `limit`
/// passes; returns how many bytes were written.
pub async fn flood(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> usize {
    let mut written = 0;
    let _ = tokio::time::timeout(limit, async {
        while stream.write_all(bytes).await.is_ok() {
            written += bytes.len();
        }
    })
    .await;
    written
}
