//! `handoff bench draft` (b), small: the openai backend against a local
//! server that answers after 200 ms.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_throughput_is_bounded_by_the_endpoint_not_the_client() {
    let run = handoff_ai::bench::openai_throughput(64, 16, Duration::from_millis(200))
        .await
        .unwrap();
    eprintln!(
        "openai bench: {} drafts at concurrency {} in {:?}: {:.1} drafts/s (ceiling {:.0}/s)",
        run.drafts, run.concurrency, run.elapsed, run.drafts_per_sec, run.ceiling_per_sec
    );
    assert_eq!(run.drafts, 64);
    assert!((run.ceiling_per_sec - 80.0).abs() < 1e-9);
    // 64 drafts in four rounds of 200 ms: anything near 80/s means the
    // client adds little; below 50/s it would be the bottleneck.
    assert!(run.drafts_per_sec >= 50.0, "{run:?}");
    assert!(
        run.drafts_per_sec <= 80.5,
        "the concurrency limit holds: {run:?}"
    );
}
