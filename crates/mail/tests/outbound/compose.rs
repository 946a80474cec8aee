//! The composed bytes, read back by mail-parser.

use handoff_mail::outbound::compose::Thread;
use handoff_mail::outbound::{ComposeError, UnsubscribeLink, compose};
use mail_parser::{MessageParser, MimeHeaders as _};
use proptest::prelude::*;

use crate::common::{PHYSICAL_ADDRESS, address, id, message};

fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("mail-parser reads the message")
}

fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

#[test]
fn a_first_touch_reads_back_with_every_header_and_both_parts() {
    let outgoing = message("first.1@acme.test");
    let bytes = compose(&outgoing).unwrap().to_bytes();

    // 7-bit clean, lines within the RFC 5322 limit: any relay takes it.
    assert!(bytes.is_ascii());
    let text = String::from_utf8(bytes.clone()).unwrap();
    for line in text.split("\r\n") {
        assert!(line.len() <= 998, "{line}");
    }
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");

    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some("Grüße — a quick question about Q3 ✓")
    );
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Dana Müller"));
    assert_eq!(from.address(), Some("dana@acme.test"));
    let to = parsed.to().unwrap().first().unwrap();
    assert_eq!(to.name(), Some("Ada Lovelace-Ñúñez"));
    assert_eq!(to.address(), Some("ada@example.test"));
    assert_eq!(parsed.message_id(), Some("first.1@acme.test"));
    assert!(parsed.date().is_some());
    assert!(parsed.in_reply_to().is_empty());
    assert!(parsed.references().is_empty());
    assert_eq!(
        parsed.header_raw("List-Unsubscribe").map(str::trim),
        Some("<https://handoff.acme.test/u/tok_123>")
    );
    assert_eq!(
        parsed.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let content_type = parsed.content_type().unwrap();
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("alternative"));
    assert_eq!(parsed.text_body.len(), 1);
    assert_eq!(parsed.html_body.len(), 1);

    let body = lf(&parsed.body_text(0).unwrap());
    assert!(body.starts_with(&outgoing.body), "{body}");
    assert!(
        body.ends_with(&format!(
            "\n\n-- \n{PHYSICAL_ADDRESS}\nTo stop receiving these emails, unsubscribe: https://handoff.acme.test/u/tok_123\n"
        )),
        "{body}"
    );

    let html = lf(&parsed.body_html(0).unwrap());
    assert!(
        html.contains("<p>Hi Ada,</p>\n<p>I saw &lt;Acme&gt; &amp; friends &quot;ship&quot; faster.<br>\nWould a 15-minute call help?</p>"),
        "{html}"
    );
    assert!(html.contains(PHYSICAL_ADDRESS), "{html}");
    assert!(
        html.contains("<a href=\"https://handoff.acme.test/u/tok_123\">"),
        "{html}"
    );
    let html_part = &parsed.parts[parsed.html_body[0] as usize];
    assert_eq!(
        html_part.content_type().unwrap().attribute("charset"),
        Some("utf-8")
    );
}

#[test]
fn a_follow_up_is_threaded_with_a_single_re() {
    let mut outgoing = message("second.2@acme.test");
    outgoing.subject = "RE: Re: Quick question".into();
    outgoing.thread = Some(Thread {
        in_reply_to: id("first.1@acme.test"),
        references: vec![id("zero.0@acme.test")],
    });
    outgoing.unsubscribe = UnsubscribeLink::new("https://handoff.acme.test/app/", "t-1")
        .unwrap()
        .with_mailto(address("unsubscribe@acme.test"));
    let bytes = compose(&outgoing).unwrap().to_bytes();
    let parsed = parse(&bytes);
    assert_eq!(parsed.subject(), Some("Re: Quick question"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("first.1@acme.test"));
    assert_eq!(
        parsed
            .references()
            .as_text_list()
            .map(|ids| ids.iter().map(|id| id.as_ref()).collect::<Vec<&str>>()),
        Some(vec!["zero.0@acme.test", "first.1@acme.test"])
    );
    // Folding is allowed; unfolded, the value is exact.
    assert_eq!(
        parsed
            .header_raw("List-Unsubscribe")
            .map(|value| value.replace("\r\n", "").trim().to_owned()),
        Some(
            "<https://handoff.acme.test/app/u/t-1>, <mailto:unsubscribe@acme.test?subject=unsubscribe>"
                .to_owned()
        )
    );

    // A first subject that happens to start with "Re:" is left alone.
    let mut first = message("third.3@acme.test");
    first.subject = "Re: your talk at RoboCon".into();
    let parsed_bytes = compose(&first).unwrap().to_bytes();
    assert_eq!(
        parse(&parsed_bytes).subject(),
        Some("Re: your talk at RoboCon")
    );
}

type Change = fn(&mut handoff_mail::outbound::OutgoingMessage);

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cases: Vec<(Change, ComposeError)> = vec![
        (|m| m.subject = "  ".into(), ComposeError::EmptySubject),
        (
            |m| m.subject = "two\nlines".into(),
            ComposeError::SubjectLine,
        ),
        (|m| m.body = "\n \n".into(), ComposeError::EmptyBody),
        (
            |m| m.physical_address = " ".into(),
            ComposeError::NoPhysicalAddress,
        ),
        (
            |m| m.from_name = Some("Dana\r\nBcc: x@y.test".into()),
            ComposeError::Name { field: "From" },
        ),
    ];
    for (change, expected) in cases {
        let mut outgoing = message("x.1@acme.test");
        change(&mut outgoing);
        assert_eq!(compose(&outgoing).unwrap_err(), expected);
    }
    let error = ComposeError::NoPhysicalAddress.to_string();
    assert!(error.contains("physical_address"), "{error}");
}

#[test]
fn a_header_injection_attempt_stays_inside_its_header() {
    let mut outgoing = message("x.2@acme.test");
    outgoing.to_name = Some("Ada\" <evil@attacker.test>, \"x".into());
    let bytes = compose(&outgoing).unwrap().to_bytes();
    let parsed = parse(&bytes);
    let to = parsed.to().unwrap();
    assert_eq!(to.first().unwrap().address(), Some("ada@example.test"));
    assert_eq!(to.iter().count(), 1, "{to:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_reads_back_unchanged(
        subject in "[^\\p{C}]{1,120}",
        body in "[^\\p{C}]{1,300}(\n[^\\p{C}]{0,80}){0,6}",
        name in "[^\\p{C}\"\\\\]{1,40}",
    ) {
        prop_assume!(!subject.trim().is_empty() && !body.trim().is_empty() && !name.trim().is_empty());
        let mut outgoing = message("prop.1@acme.test");
        outgoing.subject = subject.clone();
        outgoing.body = body.clone();
        outgoing.from_name = Some(name.clone());
        let bytes = compose(&outgoing).unwrap().to_bytes();
        prop_assert!(bytes.is_ascii());
        let parsed = parse(&bytes);
        prop_assert_eq!(parsed.subject(), Some(subject.trim()));
        prop_assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some(name.trim())
        );
        let text = lf(&parsed.body_text(0).unwrap());
        prop_assert!(text.starts_with(body.trim_end()), "{:?} vs {:?}", text, body);
        prop_assert!(text.contains(PHYSICAL_ADDRESS));
    }
}

#[test]
fn spaces_between_accented_words_survive_in_the_subject() {
    for subject in [
        "¡  ฿",
        "Zoë, café à Paris",
        "Idée pour Société Générale — réunion",
        &"é ".repeat(60),
    ] {
        let mut outgoing = message("subj.1@acme.test");
        outgoing.subject = subject.to_string();
        let bytes = compose(&outgoing).unwrap().to_bytes();
        assert!(bytes.is_ascii());
        assert_eq!(parse(&bytes).subject(), Some(subject.trim()), "{subject:?}");
    }
}
