//! Job title normalisation: the table of real-world titles in `titles.tsv`,
//! the edge cases the sales team will look at, the name round-trips, and a
//! property test that no input makes it panic.

use std::str::FromStr;
use std::time::Instant;

use handoff_domain::titles::{Department, NormalizedTitle, Seniority, normalize_title};
use proptest::prelude::*;

const TABLE: &str = include_str!("titles.tsv");

/// (title, expected seniority, expected department), header skipped.
fn rows() -> Vec<(&'static str, Seniority, Department)> {
    let mut lines = TABLE.lines();
    assert_eq!(lines.next(), Some("title\tseniority\tdepartment"), "header");
    lines
        .enumerate()
        .map(|(i, line)| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "titles.tsv line {}: {line:?}", i + 2);
            let s = cols[1]
                .parse()
                .unwrap_or_else(|e| panic!("line {}: {e}", i + 2));
            let d = cols[2]
                .parse()
                .unwrap_or_else(|e| panic!("line {}: {e}", i + 2));
            (cols[0], s, d)
        })
        .collect()
}

fn check(title: &str) -> (Seniority, Department) {
    let n = normalize_title(title);
    (n.seniority, n.department)
}

#[test]
fn every_table_row() {
    let rows = rows();
    let mut mismatches = Vec::new();
    for (title, seniority, department) in &rows {
        let got = check(title);
        if got != (*seniority, *department) {
            mismatches.push(format!(
                "  {title:?}: expected {seniority}/{department}, got {}/{}",
                got.0, got.1
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} titles differ:\n{}",
        mismatches.len(),
        rows.len(),
        mismatches.join("\n")
    );
}

#[test]
fn table_covers_every_value() {
    let rows = rows();
    assert!(rows.len() >= 320, "only {} rows", rows.len());
    for s in Seniority::ALL {
        assert!(rows.iter().any(|r| r.1 == s), "no row for seniority {s}");
    }
    for d in Department::ALL {
        assert!(rows.iter().any(|r| r.2 == d), "no row for department {d}");
    }
}

#[test]
fn case_and_accents_do_not_matter() {
    let mut mismatches = Vec::new();
    for (title, ..) in rows() {
        let base = check(title);
        for variant in [title.to_uppercase(), title.to_lowercase()] {
            if check(&variant) != base {
                mismatches.push(format!("{title:?} vs {variant:?}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    for (accented, plain) in [
        ("Geschäftsführer", "Geschaftsfuhrer"),
        ("Directeur général", "Directeur general"),
        ("Directeur ge\u{301}ne\u{301}ral", "Directeur general"),
        ("Développeur", "Developpeur"),
        ("Großkundenbetreuer", "Grosskundenbetreuer"),
    ] {
        assert_eq!(check(accented), check(plain), "{accented}");
    }
}

#[test]
fn edge_cases_from_the_brief() {
    use Department::*;
    use Seniority::*;
    for (title, expected) in [
        ("Assistant to the CEO", (Ic, Executive)),
        ("Executive Assistant", (Ic, Executive)),
        ("Vice President", (Vp, Other)),
        ("President", (CSuite, Executive)),
        ("Senior Vice President", (Vp, Other)),
        ("Associate Director", (Director, Other)),
        ("Deputy CFO", (Vp, Finance)),
        ("Interim CTO", (CSuite, Engineering)),
        ("Account Manager", (Ic, CustomerSuccess)),
        ("Product Marketing Manager", (Manager, Marketing)),
        ("Sales Engineer", (Ic, Sales)),
        ("Engineering Manager", (Manager, Engineering)),
        ("Director of Engineering", (Director, Engineering)),
        ("Dir. Eng.", (Director, Engineering)),
        ("VP of People", (Vp, Hr)),
        ("Sr. Mgr, Demand Gen", (Manager, Marketing)),
        ("VP Eng", (Vp, Engineering)),
        ("VP, Sales", (Vp, Sales)),
        ("Co-founder & CTO", (CSuite, Engineering)),
        ("CEO / Founder", (CSuite, Executive)),
        ("VP Sales and Marketing", (Vp, Sales)),
        ("Head of Growth | Marketing", (Head, Marketing)),
        ("General Counsel", (Vp, Legal)),
        ("Revenue Operations Manager", (Manager, Operations)),
        ("CPO (People)", (CSuite, Hr)),
        ("", (Unknown, Other)),
        ("-", (Unknown, Other)),
        ("n/a", (Unknown, Other)),
        ("???", (Unknown, Other)),
        ("Mr", (Unknown, Other)),
    ] {
        assert_eq!(check(title), expected, "{title:?}");
    }
}

#[test]
fn company_names_after_at_are_ignored() {
    assert_eq!(
        check("Account Executive at Marketing Cloud"),
        (Seniority::Ic, Department::Sales)
    );
    assert_eq!(
        check("Engineer @ Salesforce"),
        (Seniority::Ic, Department::Engineering)
    );
    assert_eq!(
        check("Vertriebsleiter bei Siemens IT"),
        (Seniority::Director, Department::Sales)
    );
    assert_eq!(
        check("Directrice marketing chez Legal&Co"),
        (Seniority::Director, Department::Marketing)
    );
}

#[test]
fn long_headlines_keep_the_leading_role() {
    let headline = "Founder & CEO | Helping B2B SaaS companies grow revenue | Speaker | Investor | \
                    Ex-Google, Ex-Meta | Sales, Marketing, Growth, Engineering, Product ";
    assert_eq!(check(headline), (Seniority::CSuite, Department::Executive));
    let long = format!("VP Sales {}", "and more words ".repeat(500));
    assert_eq!(check(&long), (Seniority::Vp, Department::Sales));
}

#[test]
fn names_round_trip() {
    for s in Seniority::ALL {
        assert_eq!(Seniority::from_str(s.as_str()), Ok(s));
        assert_eq!(s.to_string(), s.as_str());
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!("\"{}\"", s.as_str())
        );
        assert_eq!(
            serde_json::from_str::<Seniority>(&format!("\"{s}\"")).unwrap(),
            s
        );
    }
    for d in Department::ALL {
        assert_eq!(Department::from_str(d.as_str()), Ok(d));
        assert_eq!(d.to_string(), d.as_str());
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            format!("\"{}\"", d.as_str())
        );
        assert_eq!(
            serde_json::from_str::<Department>(&format!("\"{d}\"")).unwrap(),
            d
        );
    }
    assert_eq!("C-Suite".parse(), Ok(Seniority::CSuite));
    assert_eq!(" senior ic ".parse(), Ok(Seniority::SeniorIc));
    assert_eq!("Customer Success".parse(), Ok(Department::CustomerSuccess));
    assert_eq!(Seniority::ALL.len(), 8);
    assert_eq!(Department::ALL.len(), 12);

    let err = "boss".parse::<Seniority>().unwrap_err();
    for s in Seniority::ALL {
        assert!(err.contains(s.as_str()), "{err}");
    }
    let err = "sales team".parse::<Department>().unwrap_err();
    assert!(
        err.contains("customer_success") && err.contains("sales team"),
        "{err}"
    );

    let json = serde_json::to_value(normalize_title("VP Sales")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"seniority": "vp", "department": "sales"})
    );
}

/// Not a timed assertion: prints the cost per title. Run with
/// `cargo test --release -p handoff-domain --test titles -- --nocapture timing`.
#[test]
fn timing() {
    let titles: Vec<&str> = rows().into_iter().map(|r| r.0).collect();
    let _ = normalize_title("warm up the tables");
    let rounds = 200;
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..rounds {
        for t in &titles {
            sink += normalize_title(t).seniority as usize;
        }
    }
    let per = start.elapsed() / (rounds * titles.len()) as u32;
    println!(
        "normalize_title: {per:?} per title over {} titles (checksum {sink})",
        rounds * titles.len()
    );
}

fn fragments() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "CEO",
        "Co-Founder",
        "&",
        "and",
        "/",
        "|",
        ",",
        "(",
        ")",
        "-",
        "–",
        "of",
        "to",
        "the",
        "de",
        "at",
        "@",
        "VP",
        "Vice",
        "President",
        "Senior",
        "Sr.",
        "Assistant",
        "Deputy",
        "Head",
        "Director",
        "Manager",
        "Lead",
        "Staff",
        "Partner",
        "Chef",
        "Sales",
        "Marketing",
        "Product",
        "Engineer",
        "Geschäftsführer",
        "leiter",
        "Vertriebs",
        "R&D",
        "FP&A",
        "C.E.O.",
        "e",
        "y",
        "Go-to-Market",
        "İ",
        "ß",
        "\u{301}",
        "🚀",
        "\u{200b}",
        "工程师",
        "  ",
        ".",
    ]);
    prop::collection::vec(words, 0..80).prop_map(|w| w.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_text(s in ".*") {
        let n: NormalizedTitle = normalize_title(&s);
        if n.seniority == Seniority::Unknown {
            prop_assert_eq!(n.department, Department::Other);
        }
    }

    #[test]
    fn never_panics_on_keyword_soup(s in fragments()) {
        let n = normalize_title(&s);
        prop_assert_eq!(n, normalize_title(&s));
        if n.seniority == Seniority::Unknown {
            prop_assert_eq!(n.department, Department::Other);
        }
    }

    #[test]
    fn never_panics_on_long_odd_unicode(chars in prop::collection::vec(any::<char>(), 0..3000)) {
        let s: String = chars.into_iter().collect();
        let _ = normalize_title(&s);
    }
}
