//! DKIM signatures made here, checked by dkimpy against keys and public
//! records made by the `openssl` command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use handoff_mail::outbound::compose::Thread;
use handoff_mail::outbound::{DkimAlgorithm, DkimError, DkimSettings, DkimSigner, compose};

use crate::common::{id, message};

const VERIFIER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outbound/dkim_verify.py");

fn dkimpy_available() -> bool {
    handoff_testkit::python::require("dkim", &["dkimpy", "pynacl"], "this DKIM verification test")
        && handoff_testkit::python::require(
            "nacl",
            &["pynacl"],
            "this DKIM verification test (ed25519 needs PyNaCl)",
        )
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A key in `dir` and the TXT record for it, derived by openssl.
struct TestKey {
    path: PathBuf,
    record: String,
}

fn key(dir: &Path, kind: &str) -> TestKey {
    let file = format!("{kind}.pem");
    let (k, spki_prefix) = match kind {
        "rsa-pkcs8" => {
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    &file,
                ],
            );
            ("rsa", 0)
        }
        "rsa-pkcs1" => {
            openssl(dir, &["genrsa", "-traditional", "-out", &file, "2048"]);
            ("rsa", 0)
        }
        "ed25519" => {
            openssl(dir, &["genpkey", "-algorithm", "ed25519", "-out", &file]);
            // SubjectPublicKeyInfo = 12 bytes of header, then the raw key.
            ("ed25519", 12)
        }
        other => panic!("{other}"),
    };
    let public = format!("{kind}.pub.der");
    openssl(
        dir,
        &[
            "pkey", "-in", &file, "-pubout", "-outform", "DER", "-out", &public,
        ],
    );
    let der = std::fs::read(dir.join(&public)).unwrap();
    let p = base64::engine::general_purpose::STANDARD.encode(&der[spki_prefix..]);
    TestKey {
        path: dir.join(file),
        record: format!("v=DKIM1; k={k}; p={p}"),
    }
}

fn signer(key: &TestKey) -> DkimSigner {
    DkimSigner::from_settings(&DkimSettings {
        domain: "acme.test".into(),
        selector: "s2026".into(),
        key_file: key.path.clone(),
    })
    .unwrap()
}

/// dkimpy's verdict on `message`, with its log when it fails.
fn verify(message: &[u8], record: &str) -> (bool, String) {
    let mut child = Command::new("timeout")
        .args([
            "60",
            "python3",
            VERIFIER,
            "s2026._domainkey.acme.test",
            record,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        stdout == "PASS" || stdout == "FAIL",
        "the verifier did not run: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        stdout == "PASS",
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn signed_bytes(signer: &DkimSigner, message_id: &str) -> Vec<u8> {
    let mut composed = compose(&message(message_id)).unwrap();
    composed.sign(signer);
    composed.to_bytes()
}

/// A top-level header's value, unfolded.
fn header_value(text: &str, name: &str) -> String {
    let head = text.split("\r\n\r\n").next().unwrap();
    let prefix = format!("{name}: ");
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix(&prefix) {
            let mut value = value.to_owned();
            while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
                value.push_str(next);
            }
            return value;
        }
    }
    panic!("no {name} header in\n{head}");
}

#[test]
fn rsa_and_ed25519_signatures_verify_with_an_independent_verifier() {
    if !dkimpy_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (kind, algorithm) in [
        ("rsa-pkcs8", DkimAlgorithm::RsaSha256),
        ("rsa-pkcs1", DkimAlgorithm::RsaSha256),
        ("ed25519", DkimAlgorithm::Ed25519Sha256),
    ] {
        let key = key(dir.path(), kind);
        let signer = signer(&key);
        assert_eq!(signer.algorithm(), algorithm, "{kind}");
        assert_eq!(signer.dns_name(), "s2026._domainkey.acme.test");
        assert_eq!(signer.dns_record(), key.record, "{kind}");

        let bytes = signed_bytes(&signer, &format!("{kind}.1@acme.test"));
        let (ok, log) = verify(&bytes, &key.record);
        assert!(ok, "{kind}: dkimpy rejected the signature:\n{log}");

        let text = String::from_utf8(bytes).unwrap();
        let signature = header_value(&text, "DKIM-Signature");
        assert!(
            signature.contains(&format!("a={algorithm};")),
            "{signature}"
        );
        assert!(signature.contains("c=relaxed/relaxed"), "{signature}");
        assert!(signature.contains("d=acme.test;"), "{signature}");
        let signed: String = signature
            .split(';')
            .find_map(|tag| tag.trim().strip_prefix("h="))
            .unwrap()
            .split_whitespace()
            .collect();
        for name in [
            "from",
            "to",
            "subject",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(
                signed.split(':').any(|h| h == name),
                "{name} not in h={signed}"
            );
        }

        // The wrong key fails, so the pass above means something.
        let other = key_with_other_record(dir.path(), kind);
        assert!(
            !verify(text.as_bytes(), &other).0,
            "{kind}: another key verified"
        );
    }
}

fn key_with_other_record(dir: &Path, kind: &str) -> String {
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    key(&other, kind).record
}

#[test]
fn tampering_with_the_unsubscribe_headers_or_the_body_breaks_the_signature() {
    if !dkimpy_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for kind in ["rsa-pkcs8", "ed25519"] {
        let key = key(dir.path(), kind);
        let text = String::from_utf8(signed_bytes(&signer(&key), "tamper.1@acme.test")).unwrap();
        assert!(verify(text.as_bytes(), &key.record).0);

        let tampered = [
            (
                "List-Unsubscribe changed",
                text.replace("/u/tok_123>", "/u/someone_else>"),
            ),
            (
                "List-Unsubscribe-Post removed",
                text.replace("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", ""),
            ),
            (
                "In-Reply-To added",
                text.replacen("\r\n\r\n", "\r\nIn-Reply-To: <x@evil.test>\r\n\r\n", 1),
            ),
            ("body changed", text.replace("15-minute", "16-minute")),
        ];
        for (what, changed) in tampered {
            assert_ne!(changed, text, "{kind}: {what} changed nothing");
            assert!(
                !verify(changed.as_bytes(), &key.record).0,
                "{kind}: {what} still verified"
            );
        }
    }
}

#[test]
fn a_threaded_follow_up_verifies() {
    if !dkimpy_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path(), "ed25519");
    let mut outgoing = message("follow.2@acme.test");
    outgoing.thread = Some(Thread {
        in_reply_to: id("first.1@acme.test"),
        references: vec![id("zero.0@acme.test")],
    });
    outgoing.subject = "Re: Re: Grüße — a long subject line that has to be folded across more than one line of the header".into();
    let mut composed = compose(&outgoing).unwrap();
    composed.sign(&signer(&key));
    let (ok, log) = verify(&composed.to_bytes(), &key.record);
    assert!(ok, "{log}");
}

#[test]
fn unusable_key_files_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let settings = |path: PathBuf| DkimSettings {
        domain: "acme.test".into(),
        selector: "s2026".into(),
        key_file: path,
    };

    let missing = dir.path().join("missing.pem");
    let error = DkimSigner::from_settings(&settings(missing.clone())).unwrap_err();
    assert!(matches!(error, DkimError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains(&missing.display().to_string()));

    openssl(
        dir.path(),
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x", "-keyout", "k.pem",
            "-out", "cert.pem",
        ],
    );
    let cert = dir.path().join("cert.pem");
    let error = DkimSigner::from_settings(&settings(cert.clone())).unwrap_err();
    assert!(matches!(error, DkimError::NotAKey { .. }), "{error:?}");
    assert!(error.to_string().contains("cert.pem"), "{error}");
    assert!(error.to_string().contains("CERTIFICATE"), "{error}");

    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-aes256",
            "-pass",
            "pass:secret",
            "-out",
            "enc.pem",
        ],
    );
    let error = DkimSigner::from_settings(&settings(dir.path().join("enc.pem"))).unwrap_err();
    assert!(matches!(error, DkimError::Encrypted { .. }), "{error:?}");

    openssl(
        dir.path(),
        &["genpkey", "-algorithm", "x25519", "-out", "x.pem"],
    );
    let error = DkimSigner::from_settings(&settings(dir.path().join("x.pem"))).unwrap_err();
    assert!(error.to_string().contains("1.3.101.110"), "{error}");

    openssl(dir.path(), &["genrsa", "-out", "small.pem", "512"]);
    let error = DkimSigner::from_settings(&settings(dir.path().join("small.pem"))).unwrap_err();
    assert!(
        matches!(error, DkimError::RsaSize { bits: 512, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_signed_message_still_verifies_after_crossing_a_real_smtp_server() {
    use handoff_mail::outbound::{Envelope, SmtpTransport, Transport};
    use handoff_testkit::smtp::{SinkOptions, SmtpSink};

    if !dkimpy_available() {
        return;
    }
    let Some(sink) = SmtpSink::start(&SinkOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path(), "rsa-pkcs8");
    let mut outgoing = message("wire.1@acme.test");
    // Lines starting with a dot are dot-stuffed on the wire and unstuffed
    // by the server; the signature must survive that.
    outgoing.body = "Hi Ada,\n.hidden line\n..two dots\n\nBest,\nDana".into();
    let mut composed = compose(&outgoing).unwrap();
    composed.sign(&signer(&key));
    let bytes = composed.to_bytes();
    let transport = SmtpTransport::new(crate::common::plain_config(sink.port)).unwrap();
    transport
        .deliver(Envelope {
            from: composed.from(),
            to: composed.to(),
            message_id: composed.message_id(),
            raw: &bytes,
        })
        .await
        .unwrap();
    let received = sink.wait_for(1, std::time::Duration::from_secs(5));
    assert_eq!(received.len(), 1);
    let (ok, log) = verify(&received[0].data, &key.record);
    assert!(ok, "the received copy does not verify:\n{log}");
    let text = String::from_utf8_lossy(&received[0].data);
    assert!(text.contains("\r\n.hidden line\r\n"), "{text}");
}
