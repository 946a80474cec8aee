//! `/a/{token}`: approve and reject links for a draft (made by `handoff
//! queue links`). GET shows the draft and one button and changes nothing;
//! POST uses the link once and acts as the reviewer it names, through the
//! same engine commands as `handoff queue approve|reject`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;

use handoff_domain::Actor;
use handoff_engine::links::{ApprovalLink, LinkAction, LinkError};
use handoff_engine::send_approval::{self, MailboxChoice, ReviewError};
use handoff_store::{CommandContext, LinkUse, Redeemed};

use crate::pages::{ApprovalConfirm, ApprovalDone, mask_address, problem, render};
use crate::{AppState, WebError};

fn link_of(state: &AppState, token: &str) -> Result<ApprovalLink, LinkError> {
    ApprovalLink::verify(&state.config.link_key, token, Utc::now())
}

fn link_error_page(state: &AppState, error: LinkError) -> Response {
    match error {
        LinkError::Invalid => problem(
            &state.config,
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "It may have been cut short when it was copied. Open it again from the message, or use `handoff queue show`.",
        ),
        LinkError::Expired(at) => problem(
            &state.config,
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "It expired at {} UTC, when the draft's review window closed. A draft that needed approval and got none is never sent; `handoff queue list --expired` lists it.",
                at.format("%Y-%m-%d %H:%M")
            ),
        ),
    }
}

fn used_page(state: &AppState, used: &LinkUse) -> Response {
    problem(
        &state.config,
        StatusCode::CONFLICT,
        "This link was already used",
        &format!(
            "{} used it to {} the draft on {} UTC; a link works once, so nothing changed now.",
            used.used_by,
            used.action,
            used.used_at.format("%Y-%m-%d %H:%M")
        ),
    )
}

pub async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let link = match link_of(&state, &token) {
        Ok(link) => link,
        Err(e) => return link_error_page(&state, e),
    };
    let result = async {
        if let Some(used) = state.store.link_use(&link.nonce).await? {
            return Ok(Err(used));
        }
        let item = match send_approval::show(state.store.as_ref(), link.draft).await {
            Ok(item) => item,
            Err(ReviewError::NoDraft(_)) => {
                return Err(WebError::NotFound {
                    heading: "This draft is gone".into(),
                    detail: "The draft this link was made for no longer exists.".into(),
                });
            }
            Err(e) => return Err(WebError::Review(e.to_string())),
        };
        let recipient = match &item.prospect {
            Some(p) => mask_address(p.contact.email.as_str()),
            None => "the prospect".into(),
        };
        Ok(Ok((item, recipient)))
    }
    .await;
    let (item, recipient) = match result {
        Ok(Ok(found)) => found,
        Ok(Err(used)) => return used_page(&state, &used),
        Err(e) => return e.into_page(&state.config),
    };
    let record = item.record();
    let approve = link.action == LinkAction::Approve;
    render(
        StatusCode::OK,
        &ApprovalConfirm {
            workspace: &state.config.workspace_name,
            physical_address: &state.config.physical_address,
            heading: if approve {
                "Approve this draft?"
            } else {
                "Reject this draft?"
            },
            reviewer: link.reviewer.as_str(),
            recipient,
            closes: record
                .review_deadline
                .map(|d| format!("at {} UTC", d.format("%Y-%m-%d %H:%M")))
                .unwrap_or_else(|| "when the policy says".into()),
            subject: &record.draft.subject,
            body: &record.draft.body,
            findings: item
                .findings
                .iter()
                .map(|f| {
                    format!(
                        "{} ({}): \"{}\" — {}",
                        f.rule_id, f.severity, f.text, f.message
                    )
                })
                .collect(),
            approve,
        },
    )
}

pub async fn act(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let link = match link_of(&state, &token) {
        Ok(link) => link,
        Err(e) => return link_error_page(&state, e),
    };
    let reason = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "reason")
        .map(|(_, value)| value.trim().to_string())
        .filter(|reason| !reason.is_empty());
    let ctx = CommandContext::new(Actor::human(link.reviewer.as_str()), None);
    let redeemed = state
        .store
        .redeem_link(
            &ctx,
            &LinkUse {
                nonce: link.nonce.clone(),
                draft_id: link.draft,
                action: link.action.as_str().into(),
                used_by: link.reviewer.clone(),
                used_at: ctx.now,
            },
        )
        .await;
    match redeemed {
        Ok(Redeemed::First) => {}
        Ok(Redeemed::AlreadyUsed(used)) => return used_page(&state, &used),
        Err(handoff_store::StoreError::NotFound { .. }) => {
            return WebError::NotFound {
                heading: "This draft is gone".into(),
                detail: "The draft this link was made for no longer exists.".into(),
            }
            .into_page(&state.config);
        }
        Err(e) => return WebError::from(e).into_page(&state.config),
    }
    let store = state.store.as_ref();
    let (heading, detail) = match link.action {
        LinkAction::Approve => {
            match send_approval::approve(
                store,
                &ctx,
                link.draft,
                &link.reviewer,
                MailboxChoice::FromPlaybook(&state.config.mailboxes),
            )
            .await
            {
                Ok(approval) => (
                    "Approved".to_string(),
                    format!(
                        "The message is queued to go from {}; the sender sends it in its send window.",
                        approval.message.mailbox
                    ),
                ),
                Err(e) => return refused(&state, e),
            }
        }
        LinkAction::Reject => {
            let reason = reason.unwrap_or_else(|| "rejected from an approval link".into());
            match send_approval::reject(store, &ctx, link.draft, &link.reviewer, &reason).await {
                Ok(_) => (
                    "Rejected".to_string(),
                    format!(
                        "The draft will never be sent. Your reason is kept with it: \"{reason}\"."
                    ),
                ),
                Err(e) => return refused(&state, e),
            }
        }
    };
    render(
        StatusCode::OK,
        &ApprovalDone {
            workspace: &state.config.workspace_name,
            physical_address: &state.config.physical_address,
            heading: &heading,
            detail: &detail,
        },
    )
}

/// The engine said no (window closed, decided already, blocked): the link
/// is used up, and the page says why nothing happened.
fn refused(state: &AppState, error: ReviewError) -> Response {
    match error {
        ReviewError::Store(e) => WebError::from(e).into_page(&state.config),
        other => problem(
            &state.config,
            StatusCode::CONFLICT,
            "Nothing was changed",
            &other.to_string(),
        ),
    }
}
