//! The HTML pages (askama templates under `templates/`, escaped by default).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::WebConfig;

#[derive(Template)]
#[template(path = "unsubscribe_confirm.html")]
pub struct UnsubscribeConfirm<'a> {
    pub workspace: &'a str,
    pub physical_address: &'a str,
    pub masked_address: String,
}

#[derive(Template)]
#[template(path = "unsubscribe_done.html")]
pub struct UnsubscribeDone<'a> {
    pub workspace: &'a str,
    pub physical_address: &'a str,
    pub masked_address: String,
    pub first_time: bool,
}

#[derive(Template)]
#[template(path = "problem.html")]
pub struct Problem<'a> {
    pub workspace: &'a str,
    pub physical_address: &'a str,
    pub heading: &'a str,
    pub detail: &'a str,
}

#[derive(Template)]
#[template(path = "approval_confirm.html")]
pub struct ApprovalConfirm<'a> {
    pub workspace: &'a str,
    pub physical_address: &'a str,
    pub heading: &'a str,
    pub reviewer: &'a str,
    pub recipient: String,
    pub closes: String,
    pub subject: &'a str,
    pub body: &'a str,
    pub findings: Vec<String>,
    pub approve: bool,
}

#[derive(Template)]
#[template(path = "approval_done.html")]
pub struct ApprovalDone<'a> {
    pub workspace: &'a str,
    pub physical_address: &'a str,
    pub heading: &'a str,
    pub detail: &'a str,
}

/// Renders a page; a template that cannot render is a server error, shown
/// as a plain sentence rather than a half page.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be shown. Please try again.",
            )
                .into_response()
        }
    }
}

pub fn problem(config: &WebConfig, status: StatusCode, heading: &str, detail: &str) -> Response {
    render(
        status,
        &Problem {
            workspace: &config.workspace_name,
            physical_address: &config.physical_address,
            heading,
            detail,
        },
    )
}

/// `g•••@acme.example`: enough for the recipient to recognise their
/// address, not enough to harvest it from a forwarded link.
pub fn mask_address(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "this address".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_first_letter_and_the_domain() {
        assert_eq!(mask_address("grace@acme.example"), "g•••@acme.example");
        assert_eq!(mask_address("ü@bücher.example"), "ü•••@bücher.example");
        assert_eq!(mask_address("nonsense"), "this address");
    }
}
