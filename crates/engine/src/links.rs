//! Approve and reject links for a draft, to put in an email or a Slack
//! message: signed (nobody can make one without the workspace's key),
//! expiring (at the draft's review deadline at the latest) and single-use
//! (the store records each use; a second use does nothing and says when
//! the first was).
//!
//! A token reads `DRAFT~ACTION~REVIEWER~EXPIRES~NONCE~SIGNATURE`: every
//! part is URL-safe (user names are `[a-z0-9._-]`), and the signature is
//! the first 128 bits of an HMAC-SHA256 of the rest.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use handoff_domain::DraftId;
use handoff_domain::users::Username;

use crate::sending::{hex, hmac_sha256};

const SEPARATOR: char = '~';

/// What a link does when its page's button is pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    Approve,
    Reject,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Approve => "approve",
            LinkAction::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(LinkAction::Approve),
            "reject" => Some(LinkAction::Reject),
            _ => None,
        }
    }
}

/// One link: who may do what to which draft, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalLink {
    pub draft: DraftId,
    pub action: LinkAction,
    /// The person the link acts as (the draft's reviewer).
    pub reviewer: Username,
    pub expires_at: DateTime<Utc>,
    /// Makes each link distinct; the store remembers used ones.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one handoff made, or it was cut short when copied")]
    Invalid,
    #[error("the link expired at {} UTC", .0.format("%Y-%m-%d %H:%M"))]
    Expired(DateTime<Utc>),
}

impl ApprovalLink {
    pub fn new(
        draft: DraftId,
        action: LinkAction,
        reviewer: Username,
        expires_at: DateTime<Utc>,
    ) -> Self {
        let nonce = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        Self {
            draft,
            action,
            reviewer,
            // Whole seconds: the token carries a Unix time.
            expires_at: Utc
                .timestamp_opt(expires_at.timestamp(), 0)
                .single()
                .unwrap_or(expires_at),
            nonce,
        }
    }

    fn payload(&self) -> String {
        [
            self.draft.to_string(),
            self.action.as_str().to_string(),
            self.reviewer.as_str().to_string(),
            self.expires_at.timestamp().to_string(),
            self.nonce.clone(),
        ]
        .join(&SEPARATOR.to_string())
    }

    pub fn token(&self, key: &[u8]) -> String {
        let payload = self.payload();
        let mac = hmac_sha256(key, payload.as_bytes());
        format!("{payload}{SEPARATOR}{}", hex(&mac[..16]))
    }

    /// `PUBLIC_URL/a/TOKEN`; the public URL may carry a path prefix.
    pub fn url(&self, key: &[u8], public_url: &str) -> String {
        format!("{}/a/{}", public_url.trim_end_matches('/'), self.token(key))
    }

    /// The link a token stands for, if its signature is right and it has
    /// not expired at `now`. Never panics, whatever the token.
    pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<Self, LinkError> {
        let (payload, signature) = token.rsplit_once(SEPARATOR).ok_or(LinkError::Invalid)?;
        let expected = hex(&hmac_sha256(key, payload.as_bytes())[..16]);
        // Constant time over the signature's bytes.
        let same = expected.len() == signature.len()
            && expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(LinkError::Invalid);
        }
        let parts: Vec<&str> = payload.split(SEPARATOR).collect();
        let [draft, action, reviewer, expires, nonce] = parts[..] else {
            return Err(LinkError::Invalid);
        };
        let link = ApprovalLink {
            draft: draft.parse().map_err(|_| LinkError::Invalid)?,
            action: LinkAction::parse(action).ok_or(LinkError::Invalid)?,
            reviewer: Username::parse(reviewer).map_err(|_| LinkError::Invalid)?,
            expires_at: expires
                .parse::<i64>()
                .ok()
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
                .ok_or(LinkError::Invalid)?,
            nonce: nonce.to_string(),
        };
        if now >= link.expires_at {
            return Err(LinkError::Expired(link.expires_at));
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"the workspace's link key";

    fn link(action: LinkAction) -> ApprovalLink {
        ApprovalLink::new(
            DraftId::new(),
            action,
            Username::parse("dana").unwrap(),
            Utc::now() + chrono::Duration::hours(24),
        )
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let approve = link(LinkAction::Approve);
        let token = approve.token(KEY);
        assert_eq!(
            ApprovalLink::verify(KEY, &token, Utc::now()),
            Ok(approve.clone())
        );
        assert_eq!(
            ApprovalLink::verify(KEY, &token, approve.expires_at),
            Err(LinkError::Expired(approve.expires_at))
        );
        let url = approve.url(KEY, "https://sales.example.com/handoff/");
        assert!(
            url.starts_with("https://sales.example.com/handoff/a/"),
            "{url}"
        );
        assert!(
            url.chars()
                .all(|c| c.is_ascii_alphanumeric() || ":/.-_~".contains(c)),
            "{url}"
        );
    }

    #[test]
    fn tampering_is_refused() {
        let approve = link(LinkAction::Approve);
        let token = approve.token(KEY);
        assert_eq!(
            ApprovalLink::verify(b"another key", &token, Utc::now()),
            Err(LinkError::Invalid)
        );
        // Turning an approve link into a reject link, or moving its expiry.
        for (from, to) in [("~approve~", "~reject~"), ("~dana~", "~sam~")] {
            let forged = token.replace(from, to);
            assert_eq!(
                ApprovalLink::verify(KEY, &forged, Utc::now()),
                Err(LinkError::Invalid),
                "{forged}"
            );
        }
        let later = approve.expires_at.timestamp().to_string();
        let forged = token.replace(
            &later,
            &(approve.expires_at.timestamp() + 86_400).to_string(),
        );
        assert_eq!(
            ApprovalLink::verify(KEY, &forged, Utc::now()),
            Err(LinkError::Invalid)
        );
        // Two links for the same draft and action differ.
        assert_ne!(token, link(LinkAction::Approve).token(KEY));
    }

    proptest! {
        #[test]
        fn any_text_is_refused_without_a_panic(token in "\\PC{0,200}") {
            prop_assert!(ApprovalLink::verify(KEY, &token, Utc::now()).is_err());
        }
    }
}
