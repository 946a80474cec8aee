//! A typed outgoing message becomes a real multipart/alternative MIME
//! message: a text part and an HTML part made from it, both ending in the
//! workspace's postal address and an unsubscribe line, with RFC 8058
//! one-click unsubscribe headers and threading headers for follow-ups.

use std::time::SystemTime;

use handoff_domain::email::EmailAddress;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::MessageId;
use super::dkim::DkimSigner;

/// What the caller decided; [`compose`] turns it into MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The sending mailbox.
    pub from: EmailAddress,
    pub from_name: Option<String>,
    pub to: EmailAddress,
    pub to_name: Option<String>,
    /// As written; a follow-up gets a single "Re: " in front.
    pub subject: String,
    /// Plain text; paragraphs separated by blank lines.
    pub body: String,
    /// Chosen (and stored) by the caller before sending.
    pub message_id: MessageId,
    /// Set for a follow-up in an existing thread.
    pub thread: Option<Thread>,
    /// The workspace's postal address, printed in every footer.
    pub physical_address: String,
    pub unsubscribe: UnsubscribeLink,
    /// `None`: now.
    pub date: Option<SystemTime>,
}

/// The message a follow-up answers, and the thread so far (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub in_reply_to: MessageId,
    pub references: Vec<MessageId>,
}

/// The one-click unsubscribe target (`PUBLIC_URL/u/TOKEN`) and, optionally,
/// a mailbox that unsubscribes whoever writes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeLink {
    url: url::Url,
    mailto: Option<EmailAddress>,
}

impl UnsubscribeLink {
    /// `public_url` is the workspace's public base URL (it may carry a path
    /// prefix when behind a reverse proxy); `token` identifies the recipient.
    pub fn new(public_url: &str, token: &str) -> Result<Self, ComposeError> {
        let bad = |reason: String| ComposeError::UnsubscribeUrl {
            url: public_url.to_owned(),
            reason,
        };
        let mut url = url::Url::parse(public_url).map_err(|e| bad(e.to_string()))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                return Err(bad(format!(
                    "one-click unsubscribe (RFC 8058) needs an https:// address, not {other}://; \
                     set the workspace's public_url to the https address people reach"
                )));
            }
        }
        if url.host().is_none() || url.cannot_be_a_base() {
            return Err(bad("it has no host".to_owned()));
        }
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        {
            return Err(ComposeError::UnsubscribeToken);
        }
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| bad("it cannot carry a path".to_owned()))?
            .pop_if_empty()
            .push("u")
            .push(token);
        Ok(Self { url, mailto: None })
    }

    /// Adds a `mailto:` alternative to the List-Unsubscribe header.
    pub fn with_mailto(mut self, address: EmailAddress) -> Self {
        self.mailto = Some(address);
        self
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The List-Unsubscribe header value.
    pub fn header_value(&self) -> String {
        match &self.mailto {
            Some(mailto) => format!("<{}>, <mailto:{mailto}?subject=unsubscribe>", self.url),
            None => format!("<{}>", self.url),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("the {field} address `{address}` cannot be written in a message header: {reason}")]
    Address {
        field: &'static str,
        address: String,
        reason: String,
    },
    #[error("the {field} name contains a line break or control character; write it on one line")]
    Name { field: &'static str },
    #[error("the subject is empty; every message needs one")]
    EmptySubject,
    #[error("the subject contains a line break or control character; write it on one line")]
    SubjectLine,
    #[error("the message body is empty")]
    EmptyBody,
    #[error(
        "the workspace's physical_address is empty; anti-spam law (CAN-SPAM, CASL) requires a postal address in every message"
    )]
    NoPhysicalAddress,
    #[error("the unsubscribe address built from `{url}` is not usable: {reason}")]
    UnsubscribeUrl { url: String, reason: String },
    #[error("the unsubscribe token must be non-empty URL-safe text (letters, digits, - _ . ~)")]
    UnsubscribeToken,
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// A built message, ready to sign and turn into bytes.
#[derive(Debug, Clone)]
pub struct ComposedMessage {
    message: lettre::Message,
    message_id: MessageId,
    from: EmailAddress,
    to: EmailAddress,
}

impl ComposedMessage {
    pub fn message_id(&self) -> &MessageId {
        &self.message_id
    }

    pub fn from(&self) -> &EmailAddress {
        &self.from
    }

    pub fn to(&self) -> &EmailAddress {
        &self.to
    }

    /// Adds a DKIM-Signature header; sign last, after every other change.
    pub fn sign(&mut self, signer: &DkimSigner) {
        signer.sign_message(&mut self.message);
    }

    /// The message as sent on the wire (CRLF line ends, 7-bit clean).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.message.formatted()
    }
}

const LIST_UNSUBSCRIBE: &str = "List-Unsubscribe";

/// The Subject header. A subject that is not plain ASCII is written as
/// base64 encoded-words (RFC 2047) holding the whole text, spaces included:
/// decoders drop the white space *between* encoded-words, so encoding word
/// by word (as the builder does) loses the space between two accented
/// words ("Zoë, café" would read back as "Zoë,café").
fn subject_header(subject: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii_str("Subject");
    if subject.is_ascii() {
        return HeaderValue::new(name, subject.to_owned());
    }
    use base64::Engine as _;
    // 75 characters per encoded-word: "=?utf-8?b?" + 60 base64 + "?=" is
    // 72, and 60 base64 characters carry 45 bytes.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in subject.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    let encoded = words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?b?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ");
    HeaderValue::dangerous_new_pre_encoded(name, subject.to_owned(), encoded)
}
const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe-Post";

/// Builds the MIME message.
pub fn compose(message: &OutgoingMessage) -> Result<ComposedMessage, ComposeError> {
    let subject = message.subject.trim();
    if subject.is_empty() {
        return Err(ComposeError::EmptySubject);
    }
    if subject.chars().any(char::is_control) {
        return Err(ComposeError::SubjectLine);
    }
    let subject = match message.thread {
        Some(_) => reply_subject(subject),
        None => subject.to_owned(),
    };
    let body = normalise_newlines(&message.body);
    if body.trim().is_empty() {
        return Err(ComposeError::EmptyBody);
    }
    let physical_address = message.physical_address.trim();
    if physical_address.is_empty() {
        return Err(ComposeError::NoPhysicalAddress);
    }
    let from = mailbox("From", message.from_name.as_deref(), &message.from)?;
    let to = mailbox("To", message.to_name.as_deref(), &message.to)?;

    let text = text_part(body.trim_end(), physical_address, &message.unsubscribe);
    let html = html_part(body.trim_end(), physical_address, &message.unsubscribe);

    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .raw_header(subject_header(&subject))
        .message_id(Some(message.message_id.bracketed()));
    builder = match message.date {
        Some(date) => builder.date(date),
        None => builder.date_now(),
    };
    if let Some(thread) = &message.thread {
        builder = builder
            .in_reply_to(thread.in_reply_to.bracketed())
            .references(references(thread));
    }
    builder = builder
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(LIST_UNSUBSCRIBE),
            message.unsubscribe.header_value(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(LIST_UNSUBSCRIBE_POST),
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    let built = builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(ComposedMessage {
        message: built,
        message_id: message.message_id.clone(),
        from: message.from.clone(),
        to: message.to.clone(),
    })
}

fn mailbox(
    field: &'static str,
    name: Option<&str>,
    address: &EmailAddress,
) -> Result<Mailbox, ComposeError> {
    let parsed: lettre::Address =
        address
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| ComposeError::Address {
                field,
                address: address.to_string(),
                reason: e.to_string(),
            })?;
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    if name.is_some_and(|name| name.chars().any(char::is_control)) {
        return Err(ComposeError::Name { field });
    }
    Ok(Mailbox::new(name.map(str::to_owned), parsed))
}

/// The thread's ids, ending with the message answered, each once.
fn references(thread: &Thread) -> String {
    let mut ids: Vec<&MessageId> = Vec::with_capacity(thread.references.len() + 1);
    for id in thread
        .references
        .iter()
        .chain(std::iter::once(&thread.in_reply_to))
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // The answered message goes last even if it appeared earlier.
    ids.retain(|id| *id != &thread.in_reply_to);
    ids.push(&thread.in_reply_to);
    ids.iter()
        .map(|id| id.bracketed())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One "Re: ", however many reply prefixes the subject already had.
pub fn reply_subject(subject: &str) -> String {
    let mut rest = subject.trim();
    while let Some(head) = rest.get(..2) {
        if !head.eq_ignore_ascii_case("re") {
            break;
        }
        let after = rest[2..].trim_start();
        match after.strip_prefix(':') {
            Some(tail) => rest = tail.trim_start(),
            None => break,
        }
    }
    format!("Re: {rest}")
}

fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

const UNSUBSCRIBE_SENTENCE: &str = "To stop receiving these emails, unsubscribe";

fn text_part(body: &str, physical_address: &str, unsubscribe: &UnsubscribeLink) -> String {
    // "-- " is the signature separator mail clients recognise.
    format!(
        "{body}\n\n-- \n{physical_address}\n{UNSUBSCRIBE_SENTENCE}: {}\n",
        unsubscribe.url()
    )
}

fn html_part(body: &str, physical_address: &str, unsubscribe: &UnsubscribeLink) -> String {
    let mut html = String::with_capacity(body.len() * 2 + 600);
    html.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px;line-height:1.5;color:#222\">\n",
    );
    for paragraph in paragraphs(body) {
        html.push_str("<p>");
        for (index, line) in paragraph.iter().enumerate() {
            if index > 0 {
                html.push_str("<br>\n");
            }
            push_escaped(&mut html, line);
        }
        html.push_str("</p>\n");
    }
    html.push_str(
        "<hr style=\"border:none;border-top:1px solid #ddd;margin:24px 0 12px\">\n\
         <p style=\"font-size:12px;color:#777\">",
    );
    push_escaped(&mut html, physical_address);
    html.push_str("<br>\n");
    push_escaped(&mut html, UNSUBSCRIBE_SENTENCE);
    html.push_str(": <a href=\"");
    push_escaped(&mut html, unsubscribe.url());
    html.push_str("\">");
    push_escaped(&mut html, unsubscribe.url());
    html.push_str("</a></p>\n</body></html>\n");
    html
}

/// Runs of non-blank lines.
fn paragraphs(body: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_reply_subject_has_exactly_one_prefix() {
        assert_eq!(reply_subject("Quick question"), "Re: Quick question");
        assert_eq!(reply_subject("Re: Quick question"), "Re: Quick question");
        assert_eq!(reply_subject("RE: re:Re : Quick"), "Re: Quick");
        assert_eq!(reply_subject("Regarding pricing"), "Re: Regarding pricing");
        assert_eq!(reply_subject("Ré: déjà"), "Re: Ré: déjà");
        assert_eq!(reply_subject("Re:"), "Re: ");
    }

    #[test]
    fn html_is_escaped_and_split_into_paragraphs() {
        let link = UnsubscribeLink::new("https://h.example.com", "tok").unwrap();
        let html = html_part(
            "Hi <Ada> & \"team\",\nline two\n\n\n'Second' paragraph",
            "1 Main St & Co",
            &link,
        );
        assert!(
            html.contains(
                "<p>Hi &lt;Ada&gt; &amp; &quot;team&quot;,<br>\nline two</p>\n<p>&#39;Second&#39; paragraph</p>"
            ),
            "{html}"
        );
        assert!(html.contains("1 Main St &amp; Co"), "{html}");
        assert!(
            html.contains("<a href=\"https://h.example.com/u/tok\">"),
            "{html}"
        );
    }

    #[test]
    fn unsubscribe_links_join_the_public_url() {
        let link = UnsubscribeLink::new("https://h.example.com/handoff/", "abc_1").unwrap();
        assert_eq!(link.url(), "https://h.example.com/handoff/u/abc_1");
        assert_eq!(
            link.header_value(),
            "<https://h.example.com/handoff/u/abc_1>"
        );
        let link = UnsubscribeLink::new("https://h.example.com?x=1#f", "t")
            .unwrap()
            .with_mailto(EmailAddress::parse("unsubscribe@h.example.com").unwrap());
        assert_eq!(
            link.header_value(),
            "<https://h.example.com/u/t>, <mailto:unsubscribe@h.example.com?subject=unsubscribe>"
        );
        assert!(UnsubscribeLink::new("http://127.0.0.1:8080", "t").is_ok());
        let error = UnsubscribeLink::new("http://h.example.com", "t").unwrap_err();
        assert!(error.to_string().contains("https://"), "{error}");
        assert!(UnsubscribeLink::new("not a url", "t").is_err());
        assert_eq!(
            UnsubscribeLink::new("https://h.example.com", "a/b"),
            Err(ComposeError::UnsubscribeToken)
        );
        assert_eq!(
            UnsubscribeLink::new("https://h.example.com", ""),
            Err(ComposeError::UnsubscribeToken)
        );
    }

    #[test]
    fn references_end_with_the_answered_message_once() {
        let id = |s: &str| MessageId::parse(s).unwrap();
        let thread = Thread {
            in_reply_to: id("b@x"),
            references: vec![id("a@x"), id("b@x"), id("a@x")],
        };
        assert_eq!(references(&thread), "<a@x> <b@x>");
        let thread = Thread {
            in_reply_to: id("c@x"),
            references: vec![],
        };
        assert_eq!(references(&thread), "<c@x>");
    }

    proptest! {
        #[test]
        fn reply_subjects_never_stack(subject in "((?i)re ?: ?){0,4}[^\\r\\n]{0,30}") {
            let once = reply_subject(&subject);
            prop_assert!(once.starts_with("Re: "));
            prop_assert_eq!(reply_subject(&once), once.clone());
            let tail = &once[4..];
            prop_assert!(!tail.get(..3).is_some_and(|head| head.eq_ignore_ascii_case("re:")), "{}", once);
        }

        #[test]
        fn html_never_carries_raw_markup(body in "\\PC{1,200}") {
            let link = UnsubscribeLink::new("https://h.example.com", "t").unwrap();
            let html = html_part(&body, "addr", &link);
            let start = html.find("<p>").unwrap_or(0);
            let end = html.find("<hr").unwrap_or(html.len());
            let inner = html[start..end].replace("<p>", "").replace("</p>", "").replace("<br>", "");
            prop_assert!(!inner.contains('<') && !inner.contains('>'));
        }
    }
}
