//! Content matching: every rule's patterns and phrases over a draft's
//! subject and body, giving byte spans into the original text.
//!
//! A phrase is matched as the regex [`phrase_to_regex`] makes of it: whole
//! words, ignoring case (Unicode simple case folding), any white space
//! between words, curly or straight quotes. Patterns and phrases go into
//! one `RegexSet`: one pass over a text says which of them match at all,
//! and only those run again alone for their spans. (Phrases in an
//! Aho-Corasick automaton beside the set cost a second full pass, plus a
//! folded copy of the text for case and white space: measured on 1 KB
//! drafts, one set with both is about 1.5 times faster than the set of
//! patterns plus the automaton.)
//!
//! A Unicode `\b` is where regex slows down: its fast engine (the lazy DFA)
//! gives up on the first non-ASCII byte of a text and the search falls back
//! to the PikeVM, a hundred times slower, and model output is full of ’
//! and —. So on a text that is not all ASCII, the set pass runs on *loose*
//! regexes, each with its Unicode word boundaries removed. Removing an
//! assertion only adds matches, so every place an exact match starts is a
//! place a loose one starts; those places are found with the fast engine,
//! and the exact regex is tried anchored at each, in order, as `find_iter`
//! would. Same spans, without scanning the text on the slow engine.

use regex::{Regex, RegexSet, RegexSetBuilder};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, PatternSet, meta};
use regex_syntax::hir::{Capture, Hir, HirKind, Look, Repetition};

use super::TextField;

/// Most findings one rule reports per text; the rest are only counted, so
/// a pathological draft cannot make an evaluation arbitrarily large.
pub const MAX_FINDINGS_PER_RULE: usize = 20;

/// A compiled RegexSet can grow large with many case-insensitive Unicode
/// patterns; this is the size a playbook may use before compiling fails
/// with a clear error rather than an unusable policy.
const REGEX_SIZE_LIMIT: usize = 64 * 1024 * 1024;

/// One match before guards and grounding are considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RawMatch {
    pub field: TextField,
    pub start: usize,
    pub end: usize,
    pub rule: usize,
}

/// Most places a loose pattern may start in one text before the exact
/// pattern is simply run over the whole text instead.
const MAX_LOOSE_STARTS: usize = 1024;

/// What the content rules of a policy match, compiled once.
#[derive(Debug)]
pub(super) struct ContentMatcher {
    /// Exact patterns, for texts that are all ASCII.
    set: Option<RegexSet>,
    /// Loose patterns (see the module doc), in the same order, for others.
    loose_set: Option<meta::Regex>,
    /// The same regexes as `set`, in its order.
    patterns: Vec<Pattern>,
    rule_count: usize,
}

#[derive(Debug)]
struct Pattern {
    rule: usize,
    exact: Regex,
    /// For a pattern with Unicode word boundaries: the loose pattern, and
    /// the exact one for anchored searches.
    unicode_words: Option<UnicodeWords>,
}

#[derive(Debug)]
struct UnicodeWords {
    loose: meta::Regex,
    exact: meta::Regex,
}

/// Where a mistake is: the rule's position, which list, which entry.
#[derive(Debug)]
pub(super) struct MatcherError {
    pub rule: usize,
    pub key: &'static str,
    pub index: usize,
    pub message: String,
}

/// The patterns and phrases of one rule.
#[derive(Debug, Clone, Copy)]
pub(super) struct RuleText<'a> {
    pub patterns: &'a [String],
    pub phrases: &'a [String],
}

impl ContentMatcher {
    pub(super) fn compile(rules: &[RuleText<'_>]) -> Result<ContentMatcher, MatcherError> {
        let mut patterns = Vec::new();
        let mut loose_hirs = Vec::new();
        for (rule, text) in rules.iter().enumerate() {
            let patterns_of_rule = text
                .patterns
                .iter()
                .enumerate()
                .map(|(index, pattern)| ("patterns", index, pattern.clone()));
            let phrases_of_rule = text
                .phrases
                .iter()
                .enumerate()
                .map(|(index, phrase)| ("phrases", index, phrase_to_regex(phrase)));
            for (key, index, source) in patterns_of_rule.chain(phrases_of_rule) {
                let located = |message: String| MatcherError {
                    rule,
                    key,
                    index,
                    message,
                };
                if key == "phrases" && text.phrases.get(index).is_some_and(|p| p.trim().is_empty())
                {
                    return Err(located("empty phrase".to_string()));
                }
                let exact = regex::RegexBuilder::new(&source)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|error| {
                        located(format!("invalid regular expression: {}", last_line(&error)))
                    })?;
                // regex's own defaults, so the tree is the one it compiled.
                let hir = syntax::parse(&source)
                    .map_err(|error| located(format!("invalid regular expression: {error}")))?;
                let unicode_words = if has_unicode_word_boundary(&hir) {
                    let loose = without_unicode_word_boundaries(&hir);
                    let build = |hir: &Hir| {
                        meta::Builder::new()
                            .configure(meta_config())
                            .build_from_hir(hir)
                            .map_err(|error| located(format!("cannot compile: {error}")))
                    };
                    let unicode_words = UnicodeWords {
                        loose: build(&loose)?,
                        exact: build(&hir)?,
                    };
                    loose_hirs.push(loose);
                    Some(unicode_words)
                } else {
                    loose_hirs.push(hir);
                    None
                };
                patterns.push(Pattern {
                    rule,
                    exact,
                    unicode_words,
                });
            }
        }
        let too_large = |message: String| MatcherError {
            rule: 0,
            key: "patterns",
            index: 0,
            message: format!(
                "the patterns and phrases of all content rules together are too large to compile: {message}"
            ),
        };
        let (set, loose_set) = if patterns.is_empty() {
            (None, None)
        } else {
            let set = RegexSetBuilder::new(patterns.iter().map(|pattern| pattern.exact.as_str()))
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|error| too_large(last_line(&error)))?;
            // As regex builds a RegexSet: every match, no captures.
            let loose_set = meta::Builder::new()
                .configure(
                    meta_config()
                        .match_kind(regex_automata::MatchKind::All)
                        .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
                )
                .build_many_from_hir(&loose_hirs)
                .map_err(|error| too_large(error.to_string()))?;
            (Some(set), Some(loose_set))
        };

        Ok(ContentMatcher {
            set,
            loose_set,
            patterns,
            rule_count: rules.len(),
        })
    }

    /// Every match in `text`, appended to `scratch.raw`: at most
    /// [`MAX_FINDINGS_PER_RULE`] per rule, the rest counted in `omitted`.
    pub(super) fn scan(
        &self,
        field: TextField,
        text: &str,
        scratch: &mut Scratch,
        omitted: &mut usize,
    ) {
        let Scratch { counts, raw: out } = scratch;
        counts.clear();
        counts.resize(self.rule_count, 0);
        let mut keep = |rule: usize, start: usize, end: usize, out: &mut Vec<RawMatch>| {
            if let Some(count) = counts.get_mut(rule) {
                if *count >= MAX_FINDINGS_PER_RULE {
                    *omitted += 1;
                    return;
                }
                *count += 1;
            }
            out.push(RawMatch {
                field,
                start,
                end,
                rule,
            });
        };

        let mut spans = |pattern: &Pattern, out: &mut Vec<RawMatch>, loose: bool| {
            let mut found_one = |start: usize, end: usize| {
                // An empty match is no claim.
                if start < end {
                    keep(pattern.rule, start, end, out);
                }
            };
            match (&pattern.unicode_words, loose) {
                (Some(unicode_words), true) => unicode_words.find_each(text, &mut found_one),
                _ => {
                    for found in pattern.exact.find_iter(text) {
                        found_one(found.start(), found.end());
                    }
                }
            }
        };
        if text.is_ascii() {
            if let Some(set) = &self.set {
                let matched = set.matches(text);
                for index in matched.iter() {
                    if let Some(pattern) = self.patterns.get(index) {
                        spans(pattern, out, false);
                    }
                }
            }
        } else if let Some(loose_set) = &self.loose_set {
            let mut matched = PatternSet::new(loose_set.pattern_len());
            loose_set.which_overlapping_matches(&Input::new(text), &mut matched);
            for index in matched.iter() {
                if let Some(pattern) = self.patterns.get(index.as_usize()) {
                    spans(pattern, out, true);
                }
            }
        }
    }
}

impl UnicodeWords {
    /// Calls `found` with every match of the exact pattern, as
    /// `Regex::find_iter` would give them: the leftmost match, then the
    /// leftmost from its end, and so on.
    fn find_each(&self, text: &str, found: &mut impl FnMut(usize, usize)) {
        let mut starts = Vec::new();
        let mut at = 0;
        while at <= text.len() {
            let Some(loose) = self.loose.search(&Input::new(text).range(at..)) else {
                break;
            };
            if starts.len() == MAX_LOOSE_STARTS {
                // Too many places to try one by one: the slow engine once.
                let mut at = 0;
                while let Some(exact) = self.exact.search(&Input::new(text).range(at..)) {
                    found(exact.start(), exact.end());
                    at = if exact.end() > exact.start() {
                        exact.end()
                    } else {
                        next_boundary(text, exact.end())
                    };
                    if at > text.len() {
                        break;
                    }
                }
                return;
            }
            starts.push(loose.start());
            at = next_boundary(text, loose.start());
        }
        let mut end_of_last = 0;
        for start in starts {
            if start < end_of_last {
                continue;
            }
            let input = Input::new(text).range(start..).anchored(Anchored::Yes);
            if let Some(exact) = self.exact.search(&input) {
                found(exact.start(), exact.end());
                end_of_last = exact.end();
            }
        }
    }
}

/// The first character boundary after `at` (past the end when at the end).
fn next_boundary(text: &str, at: usize) -> usize {
    let mut next = at + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}

/// The limits regex uses for one regex, raised as for the set.
fn meta_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(REGEX_SIZE_LIMIT)
}

fn is_unicode_word_look(look: Look) -> bool {
    matches!(
        look,
        Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode
    )
}

fn has_unicode_word_boundary(hir: &Hir) -> bool {
    hir.properties().look_set().iter().any(is_unicode_word_look)
}

/// `hir` with every Unicode word-boundary assertion replaced by "empty":
/// it matches wherever `hir` does, and maybe more.
fn without_unicode_word_boundaries(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Look(look) if is_unicode_word_look(*look) => Hir::empty(),
        HirKind::Repetition(repetition) => Hir::repetition(Repetition {
            sub: Box::new(without_unicode_word_boundaries(&repetition.sub)),
            ..repetition.clone()
        }),
        HirKind::Capture(capture) => Hir::capture(Capture {
            sub: Box::new(without_unicode_word_boundaries(&capture.sub)),
            ..capture.clone()
        }),
        HirKind::Concat(subs) => {
            Hir::concat(subs.iter().map(without_unicode_word_boundaries).collect())
        }
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(without_unicode_word_boundaries).collect())
        }
        _ => hir.clone(),
    }
}

/// Buffers reused across texts and evaluations.
/// Buffers reused across texts and evaluations.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    counts: Vec<usize>,
    /// The matches of the current draft.
    pub raw: Vec<RawMatch>,
}

impl Scratch {
    /// Drops buffers grown well beyond what a usual draft needs.
    pub(super) fn shrink(&mut self) {
        if self.raw.capacity() > 4096 {
            self.raw = Vec::new();
        }
    }
}

/// What `\b` separates: a character of `\w` (Unicode).
fn is_word(c: char) -> bool {
    regex_syntax::try_is_word_character(c).unwrap_or(c.is_alphanumeric() || c == '_')
}

/// regex's messages draw the pattern and a caret; the last line says what.
fn last_line(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(text.as_str())
        .to_string()
}

/// A phrase as an equivalent regex (case-insensitive, white space as
/// `\s+`, quotes either way, `\b` where the phrase starts or ends with a
/// word character): what a regex-only matcher would need for the same job.
pub fn phrase_to_regex(phrase: &str) -> String {
    let phrase = phrase.trim();
    let mut regex = String::from("(?i)");
    if phrase.chars().next().is_some_and(is_word) {
        regex.push_str(r"\b");
    }
    for (index, word) in phrase.split_whitespace().enumerate() {
        if index > 0 {
            regex.push_str(r"\s+");
        }
        for c in word.chars() {
            match c {
                '\'' | '\u{2018}' | '\u{2019}' | '\u{201B}' => regex.push_str("['‘’‛]"),
                '"' | '\u{201C}' | '\u{201D}' => regex.push_str("[\"“”]"),
                c => regex.push_str(&regex::escape(c.encode_utf8(&mut [0u8; 4]))),
            }
        }
    }
    if phrase.chars().next_back().is_some_and(is_word) {
        regex.push_str(r"\b");
    }
    regex
}

/// The content rules' regexes alone: every pattern, and every phrase as
/// [`phrase_to_regex`], in one `RegexSet` with the same limits the policy
/// uses. What a bare regex pass over a draft costs, for `handoff bench
/// policy` to measure evaluation against.
#[derive(Debug)]
pub struct RegexBaseline {
    set: RegexSet,
}

impl RegexBaseline {
    /// The error names the first regex that does not compile.
    pub fn new(rules: &[crate::playbook::ContentRule]) -> Result<RegexBaseline, String> {
        let regexes: Vec<String> = rules
            .iter()
            .flat_map(|rule| {
                rule.patterns
                    .iter()
                    .cloned()
                    .chain(rule.phrases.iter().map(|phrase| phrase_to_regex(phrase)))
            })
            .collect();
        let set = RegexSetBuilder::new(&regexes)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|error| last_line(&error))?;
        Ok(RegexBaseline { set })
    }

    /// How many regexes the set holds.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// How many of the regexes match `text`.
    pub fn count_matching(&self, text: &str) -> usize {
        self.set.matches(text).iter().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_become_equivalent_regexes() {
        let regex = Regex::new(&phrase_to_regex("don't  unsubscribe")).unwrap();
        assert!(regex.is_match("Please DON’T\nunsubscribe"));
        assert!(!regex.is_match("don't unsubscribed"));
        assert_eq!(phrase_to_regex("$99"), r"(?i)\$99\b");
        let regex = Regex::new(&phrase_to_regex("Case study")).unwrap();
        assert!(regex.is_match("CASE\n\tSTUDY"));
        assert!(!regex.is_match("showcase study"));
    }

    /// The matches of `pattern` the way the matcher finds them on a text
    /// that is not all ASCII.
    fn loose_way(pattern: &str, text: &str) -> Vec<(usize, usize)> {
        let rules = [RuleText {
            patterns: &[pattern.to_string()],
            phrases: &[],
        }];
        let Ok(matcher) = ContentMatcher::compile(&rules) else {
            panic!("{pattern} compiles");
        };
        let mut found = Vec::new();
        match &matcher.patterns[0].unicode_words {
            Some(words) => words.find_each(text, &mut |start, end| found.push((start, end))),
            None => panic!("{pattern} has a Unicode word boundary"),
        }
        found.retain(|(start, end)| start < end);
        found
    }

    fn regex_way(pattern: &str, text: &str) -> Vec<(usize, usize)> {
        Regex::new(pattern)
            .unwrap()
            .find_iter(text)
            .map(|found| (found.start(), found.end()))
            .filter(|(start, end)| start < end)
            .collect()
    }

    #[test]
    fn loose_search_finds_what_find_iter_finds() {
        for (pattern, text) in [
            (
                r"(?i)\bcase study\b",
                "Our Case Study — café case studyé, case study’s",
            ),
            (r"\bé\w*", "é ée xé é"),
            (r"\b\w+\b", "naïve résumé — über"),
            (r"(?i)\bprice[ds]?\b", "Pricé price’s prices éprice"),
            (r"\B\w\b", "abé cd"),
        ] {
            assert_eq!(
                loose_way(pattern, text),
                regex_way(pattern, text),
                "{pattern} on {text}"
            );
        }
        // More places to try than MAX_LOOSE_STARTS: the whole-text search.
        let many = "é ab ".repeat(MAX_LOOSE_STARTS);
        for (pattern, text) in [(r"\b\w", many.as_str()), (r"\bab\b", many.as_str())] {
            assert_eq!(
                loose_way(pattern, text),
                regex_way(pattern, text),
                "{pattern} on {text}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn loose_search_agrees_with_find_iter(
            text in "[a-cé’ .\n0-9]{0,40}",
            pattern in proptest::sample::select(vec![
                r"\ba\b", r"(?i)\bab?c*\b", r"\b\w+", r"\w+\b", r"é\b", r"\bé", r"\B[ab]\b",
                r"(?i)\bA\s+B\b", r"\b\d+(\.\d+)?\s?(%|x\b)", r"[^.\n]{0,3}?\bc",
            ]),
        ) {
            proptest::prop_assert_eq!(loose_way(pattern, &text), regex_way(pattern, &text));
        }
    }
}
