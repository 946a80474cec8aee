//! `handoff bench draft --quick`: the three parts run end to end and
//! report numbers with the shape the full run has, so the wiring cannot rot.

use crate::*;

#[test]
fn bench_draft_quick_reports_all_three_parts_against_their_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(handoff(
        dir.path(),
        &["bench", "draft", "--quick", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");

    let template = &report["template"];
    assert_eq!(template["drafts"], 2000, "{report}");
    assert!(template["drafts_per_sec"].as_f64().unwrap() > 0.0);
    assert!(template["mail_merge_per_sec"].as_f64().unwrap() > 0.0);
    assert!(
        template["mean_body_bytes"].as_f64().unwrap() > 100.0,
        "{report}"
    );

    let openai = &report["openai"];
    assert_eq!(openai["drafts"], 32);
    assert_eq!(openai["ceiling_per_sec"], 80.0);
    assert!(openai["ratio"].as_f64().unwrap() <= 1.01, "{report}");

    let tokens = &report["tokens"];
    assert_eq!(tokens["contacts"], 12);
    let (reuse, baseline) = (&tokens["reuse"], &tokens["per_contact"]);
    // Every contact drafted in both runs; research once per account when
    // reused, once per contact when not.
    assert_eq!(reuse["drafted"], 12, "{report}");
    assert_eq!(baseline["drafted"], 12, "{report}");
    assert_eq!(reuse["research_calls"], 4, "{report}");
    assert_eq!(baseline["research_calls"], 12, "{report}");
    assert_eq!(reuse["draft_tokens"], baseline["draft_tokens"], "{report}");
    let ratio = tokens["ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio < 1.0, "{report}");
}
