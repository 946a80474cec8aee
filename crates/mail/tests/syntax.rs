//! Address syntax against python-email-validator 2.x (default options,
//! `check_deliverability=False`):
//! 1. the shared corpus, row by row, as its source asserts (golden test);
//! 2. the real PyPI package as an oracle on a few thousand varied addresses
//!    (differential test);
//! 3. arbitrary input never panics (property test).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use handoff_mail::address::syntax::{SyntaxErrorKind, validate};
use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;
use proptest::prelude::*;
use serde::Deserialize;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpora/email-addresses/addresses.jsonl"
);

#[derive(Debug, Deserialize)]
struct CorpusRow {
    address: String,
    expected: String,
    source: String,
    conditions: String,
}

fn read_corpus() -> Vec<CorpusRow> {
    let text = std::fs::read_to_string(CORPUS).unwrap_or_else(|e| {
        panic!(
            "address corpus missing at {CORPUS} ({e}); CI places shared/ beside the repository \
             (shared/corpora/email-addresses/addresses.jsonl)"
        )
    });
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad corpus line {line}: {e}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Golden test

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalid,
}

/// How a corpus row bears on the default options.
#[derive(Debug)]
enum Applies {
    /// Recorded under the defaults (or options that cannot matter for it).
    AsIs(Verdict),
    /// Recorded under other options; the verdict under the defaults follows
    /// from the stated reason.
    Translated(Verdict, &'static str),
    Skipped(&'static str),
}

/// Reads a row's `conditions` (see shared/corpora/README.md) and says what it
/// asserts for `validate_email(addr, check_deliverability=False)` with the
/// library defaults.
fn applies(row: &CorpusRow) -> Applies {
    use Applies::*;
    use Verdict::*;
    let recorded = if row.expected == "valid" {
        Valid
    } else {
        Invalid
    };
    let c = row.conditions.as_str();
    let quoted_or_display_name = row.address.starts_with('"') || row.address.contains('<');

    if !row.source.starts_with("JoshData/python-email-validator") {
        return Skipped(
            "verdict of another validator (Rust email_address) with its own policy; \
             its addresses go through the differential test instead",
        );
    }
    if c.starts_with("default options") && !c.contains("test_environment=True") {
        return AsIs(recorded);
    }
    if c.starts_with("default options, test_environment=True") {
        return Translated(
            Invalid,
            "refused by default options in the test environment; leaving it only refuses more",
        );
    }
    if c.starts_with("requires SMTPUTF8: valid with allow_smtputf8=True (library default)")
        && !quoted_or_display_name
    {
        // allow_display_name=True cannot matter without a display name.
        return AsIs(recorded);
    }
    if c.starts_with(
        "allow_smtputf8=False or True; allow_quoted_local=True; allow_display_name=True",
    ) {
        return if quoted_or_display_name {
            Translated(
                Invalid,
                "quoted local part or display name: both refused by default",
            )
        } else {
            Translated(
                recorded,
                "uses neither a quoted local part nor a display name, so those options cannot matter",
            )
        };
    }
    if c.starts_with("any option set, test_environment=True")
        || c.starts_with("even with allow_domain_literal=True, test_environment=True")
        || c.starts_with("test_environment=True; unsafe character")
    {
        return Translated(
            Invalid,
            "refused under every option set in the test environment; leaving it only refuses more",
        );
    }
    if c.starts_with("test_environment=True, any option set") {
        let domain = row.address.rsplit('@').next().unwrap_or("");
        return if domain == "test" || domain.ends_with(".test") {
            Skipped("valid only because the test environment allows the `test` TLD")
        } else {
            Translated(
                recorded,
                "valid under any options in the test environment, which only changes the `test` TLD, not used here",
            )
        };
    }
    if c.starts_with("allow_smtputf8=False, test_environment=True") && row.address.starts_with('"')
    {
        return Translated(Invalid, "quoted local part, refused by default");
    }
    if c.starts_with("allow_display_name=True") {
        return Translated(Invalid, "display name, refused by default");
    }
    if c.starts_with("allow_domain_literal=True") {
        return Translated(Invalid, "domain literal, refused by default");
    }
    if c.starts_with("allow_empty_local=True") {
        return Translated(Invalid, "empty local part, refused by default");
    }
    if c == "test_environment=True" {
        return Translated(
            Invalid,
            "the `test` TLD is a special-use name outside the test environment",
        );
    }
    if c.starts_with("strict=True (the same test asserts it passes without strict)") {
        return Translated(
            Valid,
            "the source asserts it passes without strict (the default): the local-part length limit is strict-only",
        );
    }
    if c.starts_with("strict=True, test_environment=True") {
        return Skipped(
            "asserted only with strict=True; the source says nothing about the default",
        );
    }
    Skipped("UNCLASSIFIED")
}

/// Normalized forms for the rows valid under the defaults. Upstream
/// tests/test_syntax.py (email-validator 2.4.0) asserts them for its
/// test_email_valid* rows; the others were recorded from email-validator 2.4.0
/// itself (with idna 3.13 and 3.20 alike) on 2026-11-24.
const EXPECTED_NORMALIZED: &[(&str, &str)] = &[
    ("Abc@example.tld", "Abc@example.tld"),
    ("Abc.123@test-example.com", "Abc.123@test-example.com"),
    (
        "!#$%&'*+-/=?^_`.{|}~@example.tld",
        "!#$%&'*+-/=?^_`.{|}~@example.tld",
    ),
    ("jeff@臺網中心.tw", "jeff@臺網中心.tw"),
    ("伊昭傑@郵件.商務", "伊昭傑@郵件.商務"),
    ("юзер@екзампл.ком", "юзер@екзампл.ком"),
    // U+F96E is a CJK compatibility ideograph; NFC turns it into U+8449.
    ("\u{F96E}士豪@臺網中心.台灣", "葉士豪@臺網中心.台灣"),
    ("ñoñó@example.tld", "ñoñó@example.tld"),
    ("我買@example.tld", "我買@example.tld"),
    (
        "чебурашкаящик-с-апельсинами.рф@example.tld",
        "чебурашкаящик-с-апельсинами.рф@example.tld",
    ),
    (
        "उदाहरण.परीक्ष@domain.with.idn.tld",
        "उदाहरण.परीक्ष@domain.with.idn.tld",
    ),
    ("ιωάννης@εεττ.gr", "ιωάννης@εεττ.gr"),
    ("＠@fullwidth.at", "＠@fullwidth.at"),
    (
        "11111111112222222222333333333344444444445555555555666666666677777@example.com",
        "11111111112222222222333333333344444444445555555555666666666677777@example.com",
    ),
    (
        "111111111122222222223333333333444444444455555555556666666666777777@example.com",
        "111111111122222222223333333333444444444455555555556666666666777777@example.com",
    ),
    ("test@iana.org", "test@iana.org"),
    ("test.test@iana.org", "test.test@iana.org"),
    ("!#$%&`*+/=?^`{|}~@iana.org", "!#$%&`*+/=?^`{|}~@iana.org"),
    (
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghiklm@iana.org",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghiklm@iana.org",
    ),
    ("test@mason-dixon.com", "test@mason-dixon.com"),
    ("test@g--a.com", "test@g--a.com"),
    (
        "test@xn--hxajbheg2az3al.xn--jxalpdlp",
        "test@παράδειγμα.δοκιμή",
    ),
    ("xn--test@iana.org", "xn--test@iana.org"),
];

#[test]
fn corpus_rows_match_python_email_validator() {
    let rows = read_corpus();
    let mut mismatches = Vec::new();
    let mut as_is = 0;
    let mut translated: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut skipped: BTreeMap<&'static str, usize> = BTreeMap::new();

    for row in &rows {
        let expected = match applies(row) {
            Applies::AsIs(verdict) => {
                as_is += 1;
                verdict
            }
            Applies::Translated(verdict, reason) => {
                *translated.entry(reason).or_default() += 1;
                verdict
            }
            Applies::Skipped("UNCLASSIFIED") => {
                mismatches.push(format!(
                    "{:?}: conditions not understood, classify them in applies(): {}",
                    row.address, row.conditions
                ));
                continue;
            }
            Applies::Skipped(reason) => {
                *skipped.entry(reason).or_default() += 1;
                continue;
            }
        };
        match (expected, validate(&row.address)) {
            (Verdict::Valid, Ok(valid)) => {
                let recorded = EXPECTED_NORMALIZED
                    .iter()
                    .find(|(address, _)| *address == row.address)
                    .map(|(_, normalized)| *normalized);
                match recorded {
                    Some(normalized) if normalized == valid.normalized => {}
                    Some(normalized) => mismatches.push(format!(
                        "{:?}: normalized {:?}, expected {normalized:?}",
                        row.address, valid.normalized
                    )),
                    None => mismatches.push(format!(
                        "{:?}: valid, but no expected normalized form is recorded",
                        row.address
                    )),
                }
            }
            (Verdict::Invalid, Err(_)) => {}
            (Verdict::Valid, Err(e)) => mismatches.push(format!(
                "{:?}: expected valid ({}), got {:?}: {}",
                row.address, row.conditions, e.kind, e.message
            )),
            (Verdict::Invalid, Ok(valid)) => mismatches.push(format!(
                "{:?}: expected invalid ({}), got valid as {:?}",
                row.address, row.conditions, valid.normalized
            )),
        }
    }

    println!(
        "corpus: {} rows; {as_is} as recorded, {} translated to the defaults, {} skipped",
        rows.len(),
        translated.values().sum::<usize>(),
        skipped.values().sum::<usize>()
    );
    for (reason, count) in &translated {
        println!("  translated {count}: {reason}");
    }
    for (reason, count) in &skipped {
        println!("  skipped {count}: {reason}");
    }
    assert!(
        mismatches.is_empty(),
        "{} corpus mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn normalized_forms_and_flags() {
    let v = validate("Postmaster@Example.COM").unwrap();
    assert_eq!(v.normalized, "postmaster@example.com");
    assert_eq!(v.ascii_email.as_deref(), Some("postmaster@example.com"));
    assert!(!v.smtputf8);

    let v = validate("Dörte@Sörensen.example.com").unwrap();
    assert_eq!(v.normalized, "Dörte@sörensen.example.com");
    assert_eq!(v.ascii_domain, "xn--srensen-90a.example.com");
    assert_eq!(v.ascii_email, None);
    assert!(v.smtputf8);

    let v = validate("user@XN--BCHER-KVA.example").unwrap();
    assert_eq!(v.domain, "bücher.example");
    assert_eq!(v.ascii_domain, "xn--bcher-kva.example");
    assert_eq!(v.normalized, "user@bücher.example");

    // Decomposed é is composed (NFC); SMTPUTF8 is reported for the input.
    let v = validate("e\u{301}@example.com").unwrap();
    assert_eq!(v.local_part, "\u{e9}");

    // KELVIN SIGN normalizes to ASCII K: ASCII form, yet SMTPUTF8 as given.
    let v = validate("\u{212A}@example.com").unwrap();
    assert_eq!(v.ascii_email.as_deref(), Some("K@example.com"));
    assert!(v.smtputf8);
}

#[test]
fn error_kinds() {
    let kind = |a: &str| validate(a).unwrap_err().kind;
    assert_eq!(
        kind("no-at-sign.example.com"),
        SyntaxErrorKind::MissingAtSign
    );
    assert_eq!(
        kind("Jo <jo@example.com>"),
        SyntaxErrorKind::DisplayNameNotAllowed
    );
    assert_eq!(
        kind("\"jo\"@example.com"),
        SyntaxErrorKind::QuotedLocalPartNotAllowed
    );
    assert_eq!(kind("@example.com"), SyntaxErrorKind::EmptyLocalPart);
    assert_eq!(
        kind("jo,jo@example.com"),
        SyntaxErrorKind::InvalidLocalPartCharacter
    );
    assert_eq!(
        kind("jo..jo@example.com"),
        SyntaxErrorKind::MisplacedDotInLocalPart
    );
    assert_eq!(
        kind("jo\u{200B}@example.com"),
        SyntaxErrorKind::UnsafeCharacter
    );
    assert_eq!(kind("jo@"), SyntaxErrorKind::EmptyDomain);
    assert_eq!(
        kind("jo@[192.0.2.1]"),
        SyntaxErrorKind::DomainLiteralNotAllowed
    );
    assert_eq!(
        kind("jo@exa_mple.com"),
        SyntaxErrorKind::InvalidDomainCharacter
    );
    assert_eq!(
        kind("jo@-example.com"),
        SyntaxErrorKind::MisplacedDotOrHyphenInDomain
    );
    assert_eq!(
        kind("jo@\u{2603}.net"),
        SyntaxErrorKind::InvalidInternationalDomain
    );
    assert_eq!(kind("jo@localhost"), SyntaxErrorKind::DomainWithoutDot);
    assert_eq!(
        kind("jo@example.123"),
        SyntaxErrorKind::InvalidTopLevelDomain
    );
    assert_eq!(kind("jo@printer.local"), SyntaxErrorKind::SpecialUseDomain);
    assert_eq!(
        kind(&format!("jo@{}.com", "a".repeat(64))),
        SyntaxErrorKind::DomainLabelTooLong
    );
    let long_domain = vec!["a".repeat(60); 5].join(".");
    assert_eq!(
        kind(&format!("jo@{long_domain}.com")),
        SyntaxErrorKind::DomainTooLong
    );
    let long_local = "a".repeat(200);
    assert_eq!(
        kind(&format!("{long_local}@{}.example.com", "b".repeat(50))),
        SyntaxErrorKind::AddressTooLong
    );
    // Messages are sentences that say how to fix the problem.
    let e = validate("jo@localhost").unwrap_err();
    assert!(e.message.ends_with('.'), "{}", e.message);
    assert_eq!(e.to_string(), e.message);
}

// ---------------------------------------------------------------------------
// 2. Differential test against the PyPI package

/// Run by the oracle: reads JSON strings, one per line, and answers with one
/// JSON object per line.
const ORACLE_SCRIPT: &str = r#"
import json, re, sys, unicodedata
from importlib.metadata import version
import idna
from email_validator import validate_email, EmailNotValidError

def rejects_fake_alabels():
    try:
        idna.decode("xn---bbk")
    except idna.IDNAError:
        return True
    return False

def has_fake_alabel(address):
    for label in re.split("[.\u3002\uff0e\uff61]", address.rsplit("@", 1)[-1].lower()):
        if label.startswith("xn--") and label.isascii():
            try:
                if label[4:].encode("ascii").decode("punycode").encode("punycode") != label[4:].encode("ascii"):
                    return True
            except Exception:
                pass
    return False

print(json.dumps({
    "email_validator": version("email-validator"),
    "idna": version("idna"),
    "unicode": unicodedata.unidata_version,
    "python": sys.version.split()[0],
    "rejects_fake_alabels": rejects_fake_alabels(),
}), flush=True)
for line in sys.stdin:
    address = json.loads(line)
    out = {
        "unassigned": sorted({ord(c) for c in address if unicodedata.category(c) == "Cn"}),
        "fake_alabel": has_fake_alabel(address),
    }
    try:
        v = validate_email(address, check_deliverability=False)
        out.update(valid=True, normalized=v.normalized, ascii_domain=v.ascii_domain,
                   ascii_email=v.ascii_email, smtputf8=v.smtputf8)
    except EmailNotValidError as e:
        out.update(valid=False, error=str(e))
    except Exception as e:
        out.update(valid=False, error="ORACLE CRASH: " + repr(e))
    print(json.dumps(out), flush=False)
sys.stdout.flush()
"#;

#[derive(Debug, Deserialize)]
struct OracleInfo {
    email_validator: String,
    idna: String,
    unicode: String,
    python: String,
    rejects_fake_alabels: bool,
}

#[derive(Debug, Deserialize)]
struct OracleAnswer {
    valid: bool,
    normalized: Option<String>,
    ascii_domain: Option<String>,
    ascii_email: Option<String>,
    smtputf8: Option<bool>,
    error: Option<String>,
    unassigned: Vec<u32>,
    fake_alabel: bool,
}

fn oracle_python() -> String {
    std::env::var("HANDOFF_EMAIL_ORACLE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn oracle_available(python: &str) -> bool {
    let imports = |py: &str| {
        Command::new(py)
            .args(["-c", "import email_validator"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if imports(python) {
        return true;
    }
    let installed = Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "email-validator>=2,<3"])
        .status()
        .is_ok_and(|s| s.success());
    installed && imports(python)
}

fn run_oracle(python: &str, addresses: &[String]) -> (OracleInfo, Vec<OracleAnswer>) {
    let mut child = Command::new(python)
        .args(["-c", ORACLE_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the python oracle");
    let mut stdin = child.stdin.take().expect("oracle stdin");
    let input: String = addresses
        .iter()
        .map(|a| serde_json::to_string(a).expect("json") + "\n")
        .collect();
    // Written from another thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut lines = BufReader::new(child.stdout.take().expect("oracle stdout")).lines();
    let info: OracleInfo =
        serde_json::from_str(&lines.next().expect("oracle header").expect("read"))
            .expect("header json");
    let answers: Vec<OracleAnswer> = lines
        .map(|line| serde_json::from_str(&line.expect("read")).expect("answer json"))
        .collect();
    writer
        .join()
        .expect("writer thread")
        .expect("write to oracle");
    assert!(
        child.wait().expect("oracle exit").success(),
        "the oracle failed"
    );
    assert_eq!(
        answers.len(),
        addresses.len(),
        "the oracle answered fewer lines than asked"
    );
    (info, answers)
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const LOCAL_PARTS: &[&str] = &[
    "john",
    "Jane.Doe",
    "a",
    "x+tag",
    "first.last+news",
    "UPPER",
    "o'brien",
    "user_name",
    "a..b",
    ".lead",
    "trail.",
    "quo\"te",
    "\"quoted\"",
    "\"quoted with space\"",
    "sp ace",
    "ñoño",
    "юзер",
    "我買",
    "θσερ",
    "\u{212A}elvin",
    "\u{FB01}le",
    "e\u{301}",
    "\u{301}x",
    "a\u{200D}b",
    "\u{1C5}",
    "postmaster",
    "Info",
    "SALES",
    "NoC",
    "a@b",
    "tab\there",
    "",
    "1234567890",
    "!#$%&'*+-/=?^_`{|}~",
    "a.b.c.d",
    "x\u{37E}",
    "dot.\u{2024}",
    "\u{2005}",
    "\u{E000}",
    "\u{FDEF}",
    "\u{1F600}",
    "a\u{FE0F}",
    "\u{FF21}bc",
    "\u{226E}me",
    "<\u{338}me",
    "\\x",
    "a(b)",
    "a,b",
    "a;b",
    "a[b]",
    "xn--test",
    "\u{3000}",
    "\u{2028}",
    "\u{AD}",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "Example.COM",
    "sub.example.co.uk",
    "xn--bcher-kva.example",
    "bücher.example",
    "BÜCHER.example",
    "例子.广告",
    "пример.рф",
    "localhost",
    "local",
    "test",
    "x.test",
    "a.invalid",
    "a.local",
    "a.onion",
    "host.localhost",
    "in-addr.arpa",
    "example",
    "[1.2.3.4]",
    "[IPv6:::1]",
    "example.123",
    "example.c0m",
    "-lead.com",
    "trail-.com",
    "a--b.com",
    "ab--c.com",
    "XN--abc.com",
    "xn--a.com",
    "xn--.com",
    "xn---bbk.com",
    "xn--bbk.com",
    "a_b.com",
    "ex ample.com",
    "exämple.com",
    "faß.de",
    "ς.gr",
    "σ.gr",
    "example\u{3002}com",
    "example\u{FF0E}com",
    "example\u{FF61}com",
    "ex\u{200D}ample.com",
    "\u{FB01}.com",
    "\u{2488}.com",
    "١٢٣.com",
    "٠۰.com",
    "אב.com",
    "1.אב.com",
    "a.אב",
    "xn--4dbc.1.com",
    "l·l.cat",
    "a·b.cat",
    "☃.net",
    "xn--n3h.net",
    "emoji\u{1F600}.com",
    "ab\u{300}c.com",
    "\u{300}abc.com",
    "a.\u{300}bc.com",
    "ϼ.com",
    "ͱ.com",
    "\u{375}α.gr",
    "\u{375}a.gr",
    "א\u{5F3}.com",
    "\u{5F3}.com",
    "ア\u{30FB}.jp",
    "\u{30FB}.jp",
    "क\u{94D}\u{200D}.in",
    "a\u{200C}b.com",
    "\u{628}\u{200C}\u{628}.com",
    "\u{FF0D}\u{FF0D}.com",
    "yy\u{FF0D}\u{FF0D}0.tld",
    "a.b.c.d.e.f.example",
    "\u{1F100}.com",
    "\u{33C2}.com",
    "\u{2474}.com",
    "\u{FF1B}.com",
    "\u{1FEF}.com",
    "a\u{FE0F}.com",
    "a.\u{FE0F}.com",
    "\u{2163}.com",
    "ℌ.com",
    "\u{2126}.com",
    "\u{FFFD}.com",
    "\u{E01EF}x.com",
    "\u{10FFFF}.com",
    "\u{E0001}.com",
    "example.com.",
    ".example.com",
    "example..com",
    "exa@mple.com",
    "exam<ple.com",
    "\u{2005}.com",
    "\u{9C}.com",
    "\u{202E}moc.com",
    "x\u{0338}.com",
    "\u{00DF}.com",
    "xn--zca.com",
    "xn--ss-.com",
    "\u{0660}.com",
];

/// Labels and domains at the length limits, in ASCII and in Unicode.
fn long_domains() -> Vec<String> {
    let mut out = Vec::new();
    for n in [62, 63, 64] {
        out.push(format!("{}.com", "a".repeat(n)));
        out.push(format!("{}.com", "ü".repeat(n / 3)));
        out.push(format!("{}.com", "ü".repeat(n - 10)));
    }
    for total in [249, 250, 251, 252, 253, 254] {
        let mut labels = Vec::new();
        let mut left = total - 4;
        while left > 0 {
            let take = left.min(60);
            labels.push("b".repeat(take));
            left -= take;
            if left > 0 {
                left = left.saturating_sub(1);
            }
        }
        out.push(format!("{}.com", labels.join(".")));
        out.push(format!("λ{}.com", labels.join(".")));
    }
    out
}

fn generated_addresses() -> Vec<String> {
    let mut out = Vec::new();
    let mut domains: Vec<String> = DOMAINS.iter().map(|d| d.to_string()).collect();
    domains.extend(long_domains());
    for (i, local) in LOCAL_PARTS.iter().enumerate() {
        for (j, domain) in domains.iter().enumerate() {
            // Every domain with a plain local part, every local part with a
            // plain domain, and a deterministic sample of the rest.
            if i == 0 || j == 0 || (i * 7 + j * 13) % 5 == 0 {
                out.push(format!("{local}@{domain}"));
            }
        }
    }
    for long_local in [64, 65, 120, 200] {
        for domain in ["example.com", "bücher.example"] {
            out.push(format!("{}@{domain}", "l".repeat(long_local)));
            out.push(format!("{}λ@{domain}", "l".repeat(long_local)));
        }
    }

    // Random mutations of valid-looking addresses.
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let pool: &[&str] = &[
        ".",
        "..",
        "-",
        "--",
        "+",
        "@",
        "\"",
        "\\",
        " ",
        "<",
        ">",
        "[",
        "]",
        "(",
        ")",
        ",",
        ";",
        ":",
        "_",
        "'",
        "ü",
        "ß",
        "λ",
        "я",
        "中",
        "א",
        "٣",
        "۳",
        "\u{301}",
        "\u{200D}",
        "\u{200C}",
        "\u{FF0E}",
        "\u{3002}",
        "\u{FF20}",
        "\u{2024}",
        "xn--",
        "XN--",
        "\u{E9}",
        "\u{1E69}",
        "\u{FB2C}",
        "A",
        "Z",
        "0",
        "9",
        "\t",
        "\u{7F}",
        "\u{A0}",
        "\u{FEFF}",
        "\u{1F600}",
    ];
    while out.len() < 4000 {
        let mut address = format!("{}@{}", rng.pick(LOCAL_PARTS), rng.pick(DOMAINS));
        for _ in 0..=rng.below(3) {
            let boundaries: Vec<usize> = (0..=address.len())
                .filter(|&b| address.is_char_boundary(b))
                .collect();
            let at = boundaries[rng.below(boundaries.len())];
            match rng.below(4) {
                0 => address.insert_str(at, rng.pick(pool)),
                1 => address = address.to_uppercase(),
                2 => {
                    let end = boundaries.iter().copied().find(|&b| b > at).unwrap_or(at);
                    address.replace_range(at..end, "");
                }
                _ => address.insert_str(at, &rng.pick(pool).repeat(2)),
            }
        }
        out.push(address);
    }

    // Random labels drawn from many scripts, marks, compatibility and
    // symbol blocks, so IDNA mapping, contextual rules and bidi get exercised.
    while out.len() < 7000 {
        let local = if rng.below(3) == 0 {
            random_label(&mut rng)
        } else {
            rng.pick(&["x", "Jo.Smith", "info", "a+b"]).to_string()
        };
        let labels = 1 + rng.below(3);
        let mut domain: Vec<String> = (0..labels).map(|_| random_label(&mut rng)).collect();
        domain.push(
            rng.pick(&["com", "de", "рф", "中国", "xn--p1ai", "c0m", "ישראל", "ελ"])
                .to_string(),
        );
        out.push(format!("{local}@{}", domain.join(".")));
    }

    // The A-label spelling of every IDN domain we accept, as given and in
    // capitals, to drive the A-label decoding path.
    let mut alabel_forms = Vec::new();
    for address in &out {
        if let Ok(valid) = validate(address)
            && valid.ascii_domain.contains("xn--")
        {
            let local = valid.local_part.clone();
            alabel_forms.push(format!("{local}@{}", valid.ascii_domain));
            alabel_forms.push(format!("{local}@{}", valid.ascii_domain.to_uppercase()));
        }
    }
    out.extend(alabel_forms);
    out
}

/// Code point ranges for random labels: ASCII, Latin, Greek, Cyrillic, Hebrew,
/// Arabic, Devanagari, Thai, Hangul jamo, combining marks, general
/// punctuation and letterlike forms, enclosed alphanumerics, CJK punctuation
/// and kana, Han, Hangul syllables, presentation forms, variation selectors,
/// half/fullwidth forms, math alphanumerics, emoji.
const CHAR_RANGES: &[(u32, u32)] = &[
    (0x61, 0x7A),
    (0x30, 0x39),
    (0x2D, 0x2E),
    (0xA0, 0x24F),
    (0x300, 0x36F),
    (0x370, 0x3FF),
    (0x400, 0x4FF),
    (0x591, 0x5F4),
    (0x600, 0x6FF),
    (0x900, 0x97F),
    (0xE00, 0xE5B),
    (0x1100, 0x11FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x2100, 0x218F),
    (0x2460, 0x24FF),
    (0x3000, 0x30FF),
    (0x4E00, 0x4E80),
    (0xAC00, 0xAC80),
    (0xFB00, 0xFB4F),
    (0xFE00, 0xFE6F),
    (0xFF00, 0xFFEF),
    (0x1D400, 0x1D4FF),
    (0x1F100, 0x1F1FF),
    (0x1F600, 0x1F64F),
];

fn random_label(rng: &mut Rng) -> String {
    let home = CHAR_RANGES[rng.below(CHAR_RANGES.len())];
    let len = 1 + rng.below(10);
    (0..len)
        .filter_map(|_| {
            // Mostly one script per label, sometimes anything, often ASCII.
            let (first, last) = match rng.below(10) {
                0..=5 => home,
                6 | 7 => CHAR_RANGES[0],
                _ => CHAR_RANGES[rng.below(CHAR_RANGES.len())],
            };
            char::from_u32(first + (rng.next() % u64::from(last - first + 1)) as u32)
        })
        .collect()
}

/// Whether the address holds a code point that the oracle's Unicode data does
/// not know yet but ours (Unicode 18) does.
fn newer_unicode_than_oracle(answer: &OracleAnswer) -> bool {
    answer.unassigned.iter().any(|&cp| {
        char::from_u32(cp).is_some_and(|c| {
            CodePointMapData::<GeneralCategory>::new().get(c) != GeneralCategory::Unassigned
        })
    })
}

#[test]
fn agrees_with_python_email_validator() {
    let python = oracle_python();
    if !oracle_available(&python) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "the email-validator oracle ({python}) is not available and could not be installed"
            );
        }
        println!(
            "\n*** SKIP agrees_with_python_email_validator: `{python} -c 'import email_validator'` \
             fails and pip could not install email-validator ***\n"
        );
        return;
    }

    let mut addresses: Vec<String> = read_corpus().into_iter().map(|row| row.address).collect();
    addresses.extend(generated_addresses());
    addresses.sort();
    addresses.dedup();

    let (info, answers) = run_oracle(&python, &addresses);
    println!(
        "oracle: email-validator {} with idna {}, Python {} (unicodedata {})",
        info.email_validator, info.idna, info.python, info.unicode
    );

    let mut disagreements = Vec::new();
    let (mut compared, mut valid_both) = (0, 0);
    let mut skipped_unicode = Vec::new();
    let mut skipped_fake_alabel = Vec::new();
    for (address, oracle) in addresses.iter().zip(&answers) {
        let ours = validate(address);
        let agree = match (&ours, oracle.valid) {
            (Ok(v), true) => {
                Some(&v.normalized) == oracle.normalized.as_ref()
                    && Some(&v.ascii_domain) == oracle.ascii_domain.as_ref()
                    && v.ascii_email == oracle.ascii_email
                    && Some(v.smtputf8) == oracle.smtputf8
            }
            (Err(_), false) => true,
            _ => false,
        };
        if !agree && newer_unicode_than_oracle(oracle) {
            skipped_unicode.push(address);
            continue;
        }
        if !agree && oracle.fake_alabel && !info.rejects_fake_alabels {
            skipped_fake_alabel.push(address);
            continue;
        }
        compared += 1;
        if ours.is_ok() && oracle.valid {
            valid_both += 1;
        }
        if !agree {
            let ours = match &ours {
                Ok(v) => format!(
                    "valid {:?} ascii_domain={:?} ascii_email={:?} smtputf8={}",
                    v.normalized, v.ascii_domain, v.ascii_email, v.smtputf8
                ),
                Err(e) => format!("invalid ({:?}: {})", e.kind, e.message),
            };
            let theirs = if oracle.valid {
                format!(
                    "valid {:?} ascii_domain={:?} ascii_email={:?} smtputf8={:?}",
                    oracle.normalized, oracle.ascii_domain, oracle.ascii_email, oracle.smtputf8
                )
            } else {
                format!("invalid ({})", oracle.error.as_deref().unwrap_or(""))
            };
            disagreements.push(format!(
                "{address:?}\n    ours:   {ours}\n    oracle: {theirs}"
            ));
        }
    }

    println!(
        "differential: {} addresses, {compared} compared ({valid_both} valid for both), {} disagreements",
        addresses.len(),
        disagreements.len()
    );
    if !skipped_unicode.is_empty() {
        println!(
            "  not compared, they hold characters newer than the oracle's Unicode {}: {:?}",
            info.unicode, skipped_unicode
        );
    }
    if !skipped_fake_alabel.is_empty() {
        println!(
            "  not compared, non-canonical A-labels that idna {} still accepts (newer idna \
             releases refuse them, and so do we): {:?}",
            info.idna, skipped_fake_alabel
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with email-validator {} (idna {}):\n{}",
        disagreements.len(),
        info.email_validator,
        info.idna,
        disagreements.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 3. No panics

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_strings(input in any::<String>()) {
        let _ = validate(&input);
    }

    #[test]
    fn never_panics_on_address_like_strings(
        input in "[a-zA-Z0-9.@\"<>\\\\ \\[\\]+-]{0,12}[@\u{80}-\u{10FFFF}]{0,6}[a-z.@-]{0,12}"
    ) {
        if let Ok(valid) = validate(&input) {
            // A valid address re-validates to itself.
            let again = validate(&valid.normalized);
            prop_assert!(again.is_ok(), "{:?} -> {:?}", input, valid.normalized);
        }
    }
}
