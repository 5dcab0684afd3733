//! HTTP to the Hub: GET with the token, redirects followed by hand (so the token goes
//! to the endpoint's host only), and error statuses turned into [`HubError`]s.

use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use super::config::HubConfig;
use super::error::HubError;
use super::url::{join, same_origin};

const MAX_REDIRECTS: usize = 10;

/// What a request was for, to word a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The file listing: a 404 means the repo (or revision) does not exist.
    Listing,
    /// A file named by the listing.
    File,
}

pub(crate) struct Client {
    agent: Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    pub(crate) fn new(config: &HubConfig) -> Client {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("vlmjudge/{}", crate::VERSION))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client { agent, base: config.base().to_string(), token: config.token.clone().filter(|t| !t.is_empty()) }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// GETs `url` with the extra `headers`, following redirects. Returns the final URL
    /// and its response, whatever its status (see [`Client::check`]).
    pub(crate) fn get(&self, url: &str, headers: &[(&str, String)]) -> Result<(String, Response<Body>), HubError> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.agent.get(&url);
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if let Some(token) = self.token_for(&url) {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let response = request.call().map_err(|e| HubError::Http { url: url.clone(), source: Box::new(e) })?;
            let status = response.status();
            if !status.is_redirection() || status.as_u16() == 304 {
                return Ok((url, response));
            }
            let location = header(&response, "location").ok_or_else(|| HubError::BadResponse {
                url: url.clone(),
                reason: format!("HTTP {} without a Location header", status.as_u16()),
            })?;
            url = join(&url, &location);
        }
        Err(HubError::BadResponse { url, reason: format!("more than {MAX_REDIRECTS} redirects") })
    }

    /// The token, when `url` is on the endpoint's host (never sent to a CDN or elsewhere).
    fn token_for(&self, url: &str) -> Option<&str> {
        self.token.as_deref().filter(|_| same_origin(url, &self.base))
    }

    /// Passes a 2xx response through; turns any other into the matching error.
    pub(crate) fn check(
        &self,
        response: Response<Body>,
        url: &str,
        repo: &str,
        revision: &str,
        target: Target,
    ) -> Result<Response<Body>, HubError> {
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let code = header(&response, "x-error-code").unwrap_or_default();
        let detail = error_detail(response);
        let url = url.to_string();
        let repo = repo.to_string();
        Err(match (status, code.as_str()) {
            (401 | 404, "RepoNotFound") => HubError::RepoNotFound { repo, url, status, detail },
            (404, "RevisionNotFound") => {
                HubError::RevisionNotFound { repo, revision: revision.to_string(), url, detail }
            }
            (404, "") if target == Target::Listing => HubError::RepoNotFound { repo, url, status, detail },
            (401, _) => HubError::Unauthorized { token_sent: self.token_for(&url).is_some(), repo, url, detail },
            (403, _) => HubError::Forbidden { repo, url, detail },
            _ => HubError::HttpStatus { url, status, detail },
        })
    }
}

/// A header's value as text, if present and readable.
pub(crate) fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string())
}

/// The reason the Hub gave for an error: `X-Error-Message`, else the `error` field of a
/// JSON body, else a short plain-text body; one line, at most 300 characters.
fn error_detail(mut response: Response<Body>) -> String {
    let text = match header(&response, "x-error-message") {
        Some(message) => message,
        None => {
            let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(json) => json.get("error").and_then(|e| e.as_str()).unwrap_or_default().to_string(),
                Err(_) if !body.trim_start().starts_with('<') => body,
                Err(_) => String::new(),
            }
        }
    };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line,
    }
}
