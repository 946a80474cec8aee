//! `import_file` on real CSV files into a real SQLite database.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use handoff_domain::{Actor, EmailAddress};
use handoff_engine::list_building::import::{Encoding, ImportError, ImportOptions, import_file};
use handoff_store::{CommandContext, LedgerFilter, Schema, Store};
use handoff_store_sqlite::{Durability, SqliteStore};

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    ctx: CommandContext,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("handoff.db"), Durability::Normal).unwrap();
    store.migrate().await.unwrap();
    Fixture {
        dir,
        store: Arc::new(store),
        ctx: CommandContext::new(Actor::human("tester"), None),
    }
}

impl Fixture {
    fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn import(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> Result<handoff_engine::list_building::import::ImportReport, ImportError> {
        import_file(self.store.as_ref(), &self.ctx, path, options, &|_, _| {}).await
    }

    async fn contact(&self, email: &str) -> handoff_store::Contact {
        self.store
            .find_contact_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{email} was imported"))
    }
}

const APOLLO: &str = "First Name,Last Name,Title,Company,Company Name for Emails,Email,Email Status,# Employees,Industry,Person Linkedin Url,Website,City,Country,Technologies,Annual Revenue,Apollo Contact Id\n\
Ada,Lovelace,VP Engineering,Acme,Acme,ada@acme.io,Verified,120,Software,http://linkedin.com/in/ada,https://www.acme.io,London,United Kingdom,\"Snowflake, dbt\",$12M,a1\n\
Bob,Stone,Account Executive,Acme,Acme,bob@acme.io,Verified,120,Software,,https://www.acme.io,London,United Kingdom,,,a2\n\
Cy,Nobody,Founder,Cy Co,Cy Co,not-an-email,Invalid,5,Retail,,,,,,,a3\n\
Dee,Ray,\"Head of\nSales\",Globex,Globex,dee@globex.co.uk,Verified,lots,Fintech,,globex.co.uk,,,,,a4\n";

#[tokio::test]
async fn an_apollo_export_imports_with_rejects_and_provenance() {
    let f = fixture().await;
    let path = f.write("apollo.csv", APOLLO.as_bytes());
    let report = f.import(&path, &ImportOptions::default()).await.unwrap();
    assert_eq!(report.format.as_str(), "apollo");
    assert_eq!(
        (report.rows, report.imported, report.rejected),
        (4, 3, 1),
        "{report:?}"
    );
    assert_eq!(report.accounts_created, 2);
    assert_eq!(
        report.warnings, 1,
        "`lots` employees is left out, the row kept"
    );

    let ada = f.contact("ada@acme.io").await;
    assert_eq!(ada.title, "VP Engineering");
    assert_eq!(ada.seniority.as_deref(), Some("vp"));
    assert_eq!(ada.department.as_deref(), Some("engineering"));
    assert_eq!(ada.field_sources.by_field()["title"]["file"], "apollo.csv");
    assert_eq!(ada.field_sources.by_field()["title"]["row"], 2);
    let dee = f.contact("dee@globex.co.uk").await;
    assert_eq!(
        dee.title, "Head of\nSales",
        "quoted newlines stay in their field"
    );
    assert_eq!(
        dee.field_sources.by_field()["email"]["row"],
        5,
        "rows count records, not lines"
    );

    let rejects = std::fs::read_to_string(report.rejects_file.as_ref().unwrap()).unwrap();
    let mut lines = rejects.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("row,column,reason,First Name")
    );
    let rejected = lines.next().unwrap();
    assert!(rejected.starts_with("4,Email,"), "{rejected}");
    assert!(rejected.contains("no `@`"), "{rejected}");
}

#[tokio::test]
async fn the_same_file_twice_changes_nothing() {
    let f = fixture().await;
    let path = f.write("apollo.csv", APOLLO.as_bytes());
    f.import(&path, &ImportOptions::default()).await.unwrap();
    let before = f.store.count_by_kind().await.unwrap();
    let again = f.import(&path, &ImportOptions::default()).await.unwrap();
    assert!(again.already_imported.is_some());
    assert_eq!(
        f.store.count_by_kind().await.unwrap(),
        before,
        "no ledger entry, no change"
    );

    // Forced, the rows are applied again, and they change nothing.
    let forced = f
        .import(
            &path,
            &ImportOptions {
                force: true,
                ..ImportOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (forced.imported, forced.merged, forced.unchanged),
        (0, 0, 3),
        "{forced:?}"
    );
}

#[tokio::test]
async fn a_company_change_is_a_job_change() {
    let f = fixture().await;
    let first = f.write(
        "a.csv",
        b"email,first_name,company,domain\nada@acme.io,Ada,Acme,acme.io\n",
    );
    f.import(&first, &ImportOptions::default()).await.unwrap();
    let second = f.write(
        "b.csv",
        b"email,company,domain\nada@acme.io,Globex,globex.com\n",
    );
    let report = f.import(&second, &ImportOptions::default()).await.unwrap();
    assert_eq!((report.merged, report.job_changes), (1, 1));
    let ada = f.contact("ada@acme.io").await;
    assert_eq!(ada.first_name, "Ada", "an absent column never erases");
    assert_eq!(ada.company.as_deref(), Some("Globex"));
    let changes = f
        .store
        .tail(&LedgerFilter {
            contact_id: Some(ada.id),
            kind: Some("job_changed".into()),
            limit: 5,
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
}

#[tokio::test]
async fn encodings_delimiters_and_spreadsheet_artefacts() {
    let f = fixture().await;
    // UTF-8 with a BOM, semicolons, Excel's ="…" text wrapper.
    let bom = f.write(
        "bom.csv",
        "\u{feff}email;first_name;title\nrenee@acme.io;=\"Renée\";=\"Directrice marketing\"\n"
            .as_bytes(),
    );
    let report = f.import(&bom, &ImportOptions::default()).await.unwrap();
    assert_eq!(
        (report.delimiter, report.encoding, report.imported),
        (';', Encoding::Utf8, 1)
    );
    assert_eq!(f.contact("renee@acme.io").await.first_name, "Renée");

    // Windows-1252 (what Excel writes on Windows), tab-separated.
    let latin = f.write(
        "latin.csv",
        b"email\tfirst_name\tcity\njurgen@acme.de\tJ\xfcrgen\tK\xf6ln\n",
    );
    let report = f.import(&latin, &ImportOptions::default()).await.unwrap();
    assert_eq!(
        (report.delimiter, report.encoding),
        ('\t', Encoding::Windows1252)
    );
    let jurgen = f.contact("jurgen@acme.de").await;
    assert_eq!(
        (jurgen.first_name.as_str(), jurgen.city.as_deref()),
        ("Jürgen", Some("Köln"))
    );

    // A formula never survives into the store.
    let formula = f.write(
        "formula.csv",
        b"email,first_name\neve@acme.io,=HYPERLINK(\"http://evil\")\n",
    );
    f.import(&formula, &ImportOptions::default()).await.unwrap();
    assert!(!f.contact("eve@acme.io").await.first_name.starts_with('='));
}

#[tokio::test]
async fn bad_files_get_one_clear_sentence() {
    let f = fixture().await;
    let utf16 = f.write("utf16.csv", b"\xff\xfee\x00m\x00a\x00i\x00l\x00");
    let err = f
        .import(&utf16, &ImportOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("UTF-16") && err.contains("CSV UTF-8"), "{err}");

    let no_email = f.write("people.csv", b"name,company\nAda,Acme\n");
    let err = f
        .import(&no_email, &ImportOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no email column found") && err.contains("--map email="),
        "{err}"
    );

    let err = f
        .import(
            &no_email,
            &ImportOptions {
                map: vec!["email=Mail".into()],
                ..ImportOptions::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("the file has no column `Mail`"), "{err}");

    let empty = f.write("empty.csv", b"");
    let err = f
        .import(&empty, &ImportOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is empty"), "{err}");

    // None of these started an import.
    let kinds = f.store.count_by_kind().await.unwrap();
    assert!(
        !kinds.iter().any(|(k, _)| k == "import_started"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_generic_file_with_a_mapping() {
    let f = fixture().await;
    let path = f.write(
        "list.csv",
        b"Work Email,Given,Org,Site\nzoe@initech.com,Zoe,Initech,initech.com\n",
    );
    let report = f
        .import(
            &path,
            &ImportOptions {
                map: vec![
                    "email=Work Email".into(),
                    "first_name=Given".into(),
                    "company=Org".into(),
                    "domain=Site".into(),
                ],
                ..ImportOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((report.format.as_str(), report.imported), ("generic", 1));
    let zoe = f.contact("zoe@initech.com").await;
    assert_eq!(
        (zoe.first_name.as_str(), zoe.company.as_deref()),
        ("Zoe", Some("Initech"))
    );
    assert!(zoe.account_id.is_some());
}

mod never_panics {
    use handoff_engine::list_building::import::dry_run;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = dry_run(&bytes, None, &[]);
        }

        #[test]
        fn on_csv_shaped_text(
            header in proptest::sample::subsequence(vec!["Email", "First Name", "Title", "Website", "# Employees", "Annual Revenue", "Technologies", "\"Quoted, Header\"", "email"], 0..9),
            rows in proptest::collection::vec(proptest::collection::vec("[a-zA-Z0-9@.,;\t\"=+\\-\n é]{0,12}", 0..9), 0..20),
            delimiter in proptest::sample::select(vec![',', ';', '\t']),
        ) {
            let mut text = header.join(&delimiter.to_string());
            for row in rows {
                text.push('\n');
                text.push_str(&row.join(&delimiter.to_string()));
            }
            let _ = dry_run(text.as_bytes(), None, &["email=Email".to_string()]);
        }
    }
}

#[tokio::test]
async fn ragged_rejected_rows_do_not_stop_the_import() {
    let f = fixture().await;
    // A short bad row, a long bad row and a broken quote among good rows.
    let path = f.write(
        "ragged.csv",
        b"email,first_name,company\nada@acme.io,Ada,Acme\nnot-an-email\nbad,too,many,cells,here\n\"broken,quote\nbob@acme.io,Bob,Acme\n",
    );
    let report = f.import(&path, &ImportOptions::default()).await.unwrap();
    assert!(report.imported >= 1, "{report:?}");
    assert!(report.rejected >= 2, "{report:?}");
    let rejects = std::fs::read_to_string(report.rejects_file.unwrap()).unwrap();
    assert!(rejects.contains("not-an-email"), "{rejects}");
}
