//! `/u/{token}`: the link in every message's List-Unsubscribe header and
//! footer. GET shows a page with a button and changes nothing; POST
//! unsubscribes in one request, both for the button and for a mail
//! client's RFC 8058 one-click request (`List-Unsubscribe=One-Click`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use handoff_domain::{Actor, MessageId};
use handoff_engine::sending::verify_unsubscribe_token;
use handoff_store::{CommandContext, StoreError, UnsubscribeVia};

use crate::pages::{UnsubscribeConfirm, UnsubscribeDone, mask_address, render};
use crate::{AppState, WebError};

/// The body RFC 8058 §3.1 has mail clients send.
const ONE_CLICK_BODY: &[u8] = b"List-Unsubscribe=One-Click";

fn bad_link() -> WebError {
    WebError::NotFound {
        heading: "This unsubscribe link is not valid".into(),
        detail: "It may have been cut short when it was copied: open it again from the email, \
                 or reply to the email asking to be removed and we will do it by hand."
            .into(),
    }
}

fn message_of(state: &AppState, token: &str) -> Result<MessageId, WebError> {
    verify_unsubscribe_token(&state.config.unsubscribe_key, token).ok_or_else(bad_link)
}

pub async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let result = async {
        let message = message_of(&state, &token)?;
        let address = state
            .store
            .message_recipient(message)
            .await?
            .ok_or_else(bad_link)?;
        Ok::<_, WebError>(address)
    }
    .await;
    match result {
        Ok(address) => render(
            StatusCode::OK,
            &UnsubscribeConfirm {
                workspace: &state.config.workspace_name,
                physical_address: &state.config.physical_address,
                masked_address: mask_address(address.as_str()),
            },
        ),
        Err(e) => e.into_page(&state.config),
    }
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    // Whatever the body's encoding (RFC 8058 allows urlencoded or
    // multipart), the one-click marker is these bytes.
    let via = if body
        .windows(ONE_CLICK_BODY.len())
        .any(|w| w == ONE_CLICK_BODY)
    {
        UnsubscribeVia::OneClick
    } else {
        UnsubscribeVia::ConfirmPage
    };
    let result = async {
        let message = message_of(&state, &token)?;
        let ctx = CommandContext::new(Actor::system("unsubscribe-link"), None);
        match state.store.unsubscribe(&ctx, message, via).await {
            Ok(done) => Ok(done),
            Err(StoreError::NotFound { .. }) => Err(bad_link()),
            Err(e) => Err(WebError::from(e)),
        }
    }
    .await;
    match result {
        Ok(done) => {
            tracing::info!(message = %done.message_id, via = via.as_str(), first_time = done.first_time, "unsubscribed");
            render(
                StatusCode::OK,
                &UnsubscribeDone {
                    workspace: &state.config.workspace_name,
                    physical_address: &state.config.physical_address,
                    masked_address: mask_address(done.email.as_str()),
                    first_time: done.first_time,
                },
            )
        }
        Err(e) => e.into_page(&state.config),
    }
}
