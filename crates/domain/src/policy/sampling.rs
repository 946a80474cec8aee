//! QA sampling of automatic sends: a pure function of the draft id and the
//! rate, so a replay samples exactly the drafts the original run did.

use sha2::{Digest, Sha256};

/// Separates these hashes from any other SHA-256 of a draft id; bumped if
/// the sampling ever changes meaning.
const QA_HASH_DOMAIN: &[u8] = b"handoff-qa-sample-v1\n";

/// The draft's fixed point in [0, 1): the first 53 bits of
/// SHA-256("handoff-qa-sample-v1\n" + id), as a fraction.
pub fn qa_point(draft_id: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(QA_HASH_DOMAIN)
        .chain_update(draft_id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    for (slot, byte) in first.iter_mut().zip(digest.iter()) {
        *slot = *byte;
    }
    // 53 bits: exactly representable, so the point is below 1.
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether a person checks this automatic send: its point is below `rate`.
/// A rate of 0 (or NaN) samples nothing, 1 samples everything.
pub fn qa_sampled(draft_id: &str, rate: f64) -> bool {
    rate > 0.0 && qa_point(draft_id) < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_fixed_and_in_range() {
        let point = qa_point("draft-1");
        assert_eq!(point, qa_point("draft-1"));
        assert!((0.0..1.0).contains(&point));
        assert_ne!(point, qa_point("draft-2"));
        assert!(qa_sampled("draft-1", 1.0));
        assert!(!qa_sampled("draft-1", 0.0));
        assert!(!qa_sampled("draft-1", f64::NAN));
    }
}
