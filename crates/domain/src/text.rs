//! Comparing texts: how far the message a person sent is from the text the
//! AI wrote (the AI draft acceptance rate counts drafts sent within 0.2).

/// Levenshtein distance over Unicode scalar values (`char`s), divided by
/// the length of the longer text: 0.0 for identical texts (two empty ones
/// included), 1.0 for texts with nothing in common.
///
/// O(n·m) time, O(min(n, m)) memory: one row over the shorter text.
pub fn normalized_edit_distance(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 0.0;
    }
    levenshtein(&a, &b) as f64 / longer as f64
}

/// Edits (insert, delete, substitute one char) turning `a` into `b`.
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    // A common prefix and suffix cost nothing: most edits are local.
    let prefix = long.iter().zip(short).take_while(|(x, y)| x == y).count();
    let (long, short) = (&long[prefix..], &short[prefix..]);
    let suffix = long
        .iter()
        .rev()
        .zip(short.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (long, short) = (&long[..long.len() - suffix], &short[..short.len() - suffix]);
    if short.is_empty() {
        return long.len();
    }
    // row[j] = distance between the first i chars of `long` and the first
    // j chars of `short`.
    let mut row: Vec<usize> = (0..=short.len()).collect();
    for (i, lc) in long.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, sc) in short.iter().enumerate() {
            let substitute = diagonal + usize::from(lc != sc);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[short.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        levenshtein(&a, &b)
    }

    #[test]
    fn known_distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("flaw", "lawn"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("abcdef", "azcdqf"), 2);
    }

    #[test]
    fn normalised_by_the_longer_text() {
        assert_eq!(normalized_edit_distance("", ""), 0.0);
        assert_eq!(normalized_edit_distance("", "abcd"), 1.0);
        assert_eq!(normalized_edit_distance("abcd", "abcd"), 0.0);
        assert_eq!(normalized_edit_distance("abcd", "abce"), 0.25);
        assert!((normalized_edit_distance("kitten", "sitting") - 3.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn counts_characters_not_bytes() {
        // One substituted accented letter in a five-letter word.
        assert_eq!(normalized_edit_distance("café!", "cafe!"), 0.2);
        // Each emoji (four bytes) is one edit.
        assert_eq!(normalized_edit_distance("👋 hi", "🙂 hi"), 0.25);
        assert_eq!(normalized_edit_distance("日本語", "日本"), 1.0 / 3.0);
        assert_eq!(normalized_edit_distance("Grüße", "Grüße"), 0.0);
    }

    #[test]
    fn a_light_edit_of_an_email_is_under_the_acceptance_threshold() {
        let ai = "Month-end close\nHi Ada, teams like yours close the books in three days with Northwind. Worth a call on Tuesday?";
        let sent = "Month-end close\nHi Ada, teams like yours close their books in three days with Northwind. Worth a chat on Thursday?";
        let d = normalized_edit_distance(ai, sent);
        assert!(d > 0.0 && d < 0.2, "{d}");
    }

    proptest! {
        #[test]
        fn symmetric_and_bounded(a in "\\PC{0,24}", b in "\\PC{0,24}") {
            let ab = normalized_edit_distance(&a, &b);
            prop_assert_eq!(ab, normalized_edit_distance(&b, &a));
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert_eq!(ab == 0.0, a == b);
        }

        #[test]
        fn triangle_inequality(a in "[ab]{0,8}", b in "[ab]{0,8}", c in "[ab]{0,8}") {
            prop_assert!(distance(&a, &c) <= distance(&a, &b) + distance(&b, &c));
        }

        #[test]
        fn matches_the_full_matrix(a in "[a-c é]{0,12}", b in "[a-c é]{0,12}") {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            // m[i][j]: distance between the first i chars of a and the
            // first j of b; the first row and column are all insertions.
            let mut m: Vec<Vec<usize>> = (0..=a.len())
                .map(|i| (0..=b.len()).map(|j| if i == 0 { j } else if j == 0 { i } else { 0 }).collect())
                .collect();
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    m[i][j] = (m[i - 1][j - 1] + cost).min(m[i - 1][j] + 1).min(m[i][j - 1] + 1);
                }
            }
            prop_assert_eq!(levenshtein(&a, &b), m[a.len()][b.len()]);
        }
    }
}
