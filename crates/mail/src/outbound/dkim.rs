//! DKIM signing (rsa-sha256 and ed25519-sha256, RFC 6376 and RFC 8463)
//! with a key read from a PEM file.
//!
//! Accepted key files: PKCS#1 RSA (`BEGIN RSA PRIVATE KEY`), PKCS#8 RSA or
//! Ed25519 (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes), and a bare
//! base64 Ed25519 seed. The algorithm is read from the key itself.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{EncodeRsaPrivateKey as _, LineEnding};
use rsa::pkcs8::der::Decode as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, ObjectIdentifier, PrivateKeyInfo};

/// The headers every signature covers. List-Unsubscribe and
/// List-Unsubscribe-Post must be signed (RFC 8058 §4) or mailbox providers
/// ignore them; absent ones (In-Reply-To on a first touch) are signed as
/// absent, so nobody can add them later. Not Content-Type: lettre writes
/// the top-level one with the body, after signing, so it cannot be covered.
const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A mailbox's DKIM settings, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSettings {
    /// The `d=` domain; the From address should be in it (DMARC alignment).
    pub domain: String,
    /// The `s=` selector: the key is published at `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    RsaSha256,
    Ed25519Sha256,
}

impl fmt::Display for DkimAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::Ed25519Sha256 => "ed25519-sha256",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkimError {
    #[error("cannot read the DKIM key file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error(
        "the DKIM key file {} is not a private key ({reason}); expected a PEM file such as `openssl genpkey -algorithm ed25519` or `openssl genrsa 2048` writes",
        path.display()
    )]
    NotAKey { path: PathBuf, reason: String },
    #[error(
        "the DKIM key file {} is encrypted; export it without a passphrase: openssl pkey -in KEY -out KEY.plain",
        path.display()
    )]
    Encrypted { path: PathBuf },
    #[error(
        "the DKIM key in {} is a {bits}-bit RSA key; use 1024 to 4096 bits (2048 is usual)",
        path.display()
    )]
    RsaSize { path: PathBuf, bits: usize },
    #[error(
        "the DKIM {what} `{value}` is not a domain name; write it like selector = \"s2024\", domain = \"example.com\""
    )]
    Name { what: &'static str, value: String },
}

/// Signs messages for one domain and selector.
pub struct DkimSigner {
    config: DkimConfig,
    algorithm: DkimAlgorithm,
    domain: String,
    selector: String,
    public_key: Vec<u8>,
}

impl fmt::Debug for DkimSigner {
    // The key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSigner")
            .field("algorithm", &self.algorithm)
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Reads the key file named in the settings.
    pub fn from_settings(settings: &DkimSettings) -> Result<Self, DkimError> {
        let path = &settings.key_file;
        let text = std::fs::read(path).map_err(|e| DkimError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Self::from_key(&settings.domain, &settings.selector, &text, path)
    }

    /// `key` is the content of the key file; `path` only names it in errors.
    pub fn from_key(
        domain: &str,
        selector: &str,
        key: &[u8],
        path: &Path,
    ) -> Result<Self, DkimError> {
        check_name("domain", domain)?;
        check_name("selector", selector)?;
        let parsed = parse_key(key, path)?;
        let (lettre_key, algorithm, public_key) = match parsed {
            ParsedKey::Rsa(private) => {
                let bits = rsa::traits::PublicKeyParts::size(private.as_ref()) * 8;
                if !(1024..=4096).contains(&bits) {
                    return Err(DkimError::RsaSize {
                        path: path.to_owned(),
                        bits,
                    });
                }
                let public = private
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| not_a_key(path, e))?
                    .into_vec();
                let pem = private
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(|e| not_a_key(path, e))?;
                let key = DkimSigningKey::new(&pem, DkimSigningAlgorithm::Rsa)
                    .map_err(|e| not_a_key(path, e))?;
                (key, DkimAlgorithm::RsaSha256, public)
            }
            ParsedKey::Ed25519(seed) => {
                let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                    .verifying_key()
                    .to_bytes()
                    .to_vec();
                let encoded = base64::engine::general_purpose::STANDARD.encode(seed);
                let key = DkimSigningKey::new(&encoded, DkimSigningAlgorithm::Ed25519)
                    .map_err(|e| not_a_key(path, e))?;
                (key, DkimAlgorithm::Ed25519Sha256, public)
            }
        };
        let config = DkimConfig::new(
            selector.to_owned(),
            domain.to_owned(),
            lettre_key,
            SIGNED_HEADERS
                .iter()
                .map(|name| HeaderName::new_from_ascii_str(name))
                .collect(),
            // Relaxed survives the re-folding and whitespace changes of relays.
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(Self {
            config,
            algorithm,
            domain: domain.to_owned(),
            selector: selector.to_owned(),
            public_key,
        })
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Where the public key must be published.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at [`Self::dns_name`].
    pub fn dns_record(&self) -> String {
        let k = match self.algorithm {
            DkimAlgorithm::RsaSha256 => "rsa",
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
        };
        let p = base64::engine::general_purpose::STANDARD.encode(&self.public_key);
        format!("v=DKIM1; k={k}; p={p}")
    }

    pub(crate) fn sign_message(&self, message: &mut lettre::Message) {
        message.sign(&self.config);
    }
}

enum ParsedKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519([u8; 32]),
}

fn not_a_key(path: &Path, error: impl fmt::Display) -> DkimError {
    DkimError::NotAKey {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

fn parse_key(bytes: &[u8], path: &Path) -> Result<ParsedKey, DkimError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| not_a_key(path, "the file is not text"))?
        .trim();
    if !text.starts_with("-----BEGIN") {
        // A bare base64 Ed25519 seed, the format some DKIM tools write.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| not_a_key(path, "no PEM header and not base64"))?;
        let seed: [u8; 32] = raw.try_into().map_err(|raw: Vec<u8>| {
            not_a_key(
                path,
                format!(
                    "no PEM header, and {} bytes of base64 is not an Ed25519 seed (32 bytes)",
                    raw.len()
                ),
            )
        })?;
        return Ok(ParsedKey::Ed25519(seed));
    }
    let (label, der) =
        rsa::pkcs8::der::pem::decode_vec(text.as_bytes()).map_err(|e| not_a_key(path, e))?;
    match label {
        "RSA PRIVATE KEY" => {
            let key = <rsa::RsaPrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_der(&der)
                .map_err(|e| not_a_key(path, e))?;
            Ok(ParsedKey::Rsa(Box::new(key)))
        }
        "PRIVATE KEY" => {
            let info = PrivateKeyInfo::from_der(&der).map_err(|e| not_a_key(path, e))?;
            if info.algorithm.oid == OID_RSA {
                let key =
                    rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| not_a_key(path, e))?;
                Ok(ParsedKey::Rsa(Box::new(key)))
            } else if info.algorithm.oid == OID_ED25519 {
                // RFC 8410: the private key is an OCTET STRING holding the seed.
                match info.private_key {
                    [0x04, 0x20, seed @ ..] if seed.len() == 32 => {
                        let mut out = [0_u8; 32];
                        out.copy_from_slice(seed);
                        Ok(ParsedKey::Ed25519(out))
                    }
                    _ => Err(not_a_key(path, "malformed Ed25519 private key")),
                }
            } else {
                Err(not_a_key(
                    path,
                    format!(
                        "a key of type {} (DKIM signs with RSA or Ed25519)",
                        info.algorithm.oid
                    ),
                ))
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err(DkimError::Encrypted {
            path: path.to_owned(),
        }),
        other => Err(not_a_key(
            path,
            format!("the PEM block is `{other}`, not a private key"),
        )),
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), DkimError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(DkimError::Name {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path() -> &'static Path {
        Path::new("/etc/handoff/dkim.pem")
    }

    #[test]
    fn a_bare_seed_is_an_ed25519_key() {
        let seed = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
        let signer = DkimSigner::from_key("example.com", "s1", seed.as_bytes(), path()).unwrap();
        assert_eq!(signer.algorithm(), DkimAlgorithm::Ed25519Sha256);
        assert_eq!(signer.dns_name(), "s1._domainkey.example.com");
        assert!(signer.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
        let debug = format!("{signer:?}");
        assert!(!debug.contains(&seed), "{debug}");
    }

    #[test]
    fn junk_is_not_a_key_and_the_error_names_the_file() {
        for junk in [
            &b"hello"[..],
            b"",
            b"\xff\xfe",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN RSA PRIVATE KEY-----\n",
        ] {
            let error = DkimSigner::from_key("example.com", "s1", junk, path()).unwrap_err();
            assert!(matches!(error, DkimError::NotAKey { .. }), "{error:?}");
            assert!(
                error.to_string().contains("/etc/handoff/dkim.pem"),
                "{error}"
            );
        }
        let encrypted =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(
            DkimSigner::from_key("example.com", "s1", encrypted, path()),
            Err(DkimError::Encrypted { .. })
        ));
    }

    #[test]
    fn selectors_and_domains_are_names() {
        let seed = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
        for (domain, selector) in [
            ("", "s"),
            ("example.com", ""),
            ("a b", "s"),
            ("x.com", "s;x"),
        ] {
            assert!(matches!(
                DkimSigner::from_key(domain, selector, seed.as_bytes(), path()),
                Err(DkimError::Name { .. })
            ));
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = DkimSigner::from_settings(&DkimSettings {
            domain: "example.com".into(),
            selector: "s1".into(),
            key_file: "/nonexistent/dkim.pem".into(),
        })
        .unwrap_err();
        assert!(matches!(error, DkimError::Read { .. }));
        assert!(
            error.to_string().contains("/nonexistent/dkim.pem"),
            "{error}"
        );
    }

    proptest! {
        #[test]
        fn key_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = DkimSigner::from_key("example.com", "s1", &bytes, path());
        }

        #[test]
        fn pem_shaped_junk_never_panics(body in "[A-Za-z0-9+/=\n]{0,400}", label in "(RSA )?PRIVATE KEY") {
            let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
            let _ = DkimSigner::from_key("example.com", "s1", pem.as_bytes(), path());
        }
    }
}
