//! Phase one: an MCP request without a token, and the challenge that answers it; then the
//! endpoint's other methods (`GET`, `DELETE`) without a token.

use url::Url;

use super::{
    mcp::Speaker,
    request::{Unreachable, send},
};
use crate::{
    probe::{Exchange, Probe},
    www_authenticate::{self, Challenge},
};

/// The request without a token and its challenges.
#[derive(Debug, Clone)]
pub struct Challenged {
    /// The request without a token.
    pub unauthenticated: Exchange,
    /// Its challenges, or why they could not be read.
    pub challenges: Result<Vec<Challenge>, String>,
    /// `GET` (the event stream) and `DELETE` without a token.
    pub other_methods: Vec<Exchange>,
}

impl Challenged {
    /// Sends the opening request of `speaker`'s revision without a token.
    pub async fn observe(
        probe: &Probe,
        target: &Url,
        speaker: &Speaker,
    ) -> Result<Self, Unreachable> {
        let unauthenticated = send(probe, target, None, speaker, &[]).await.exchange;
        if let Some(reason) = &unauthenticated.error {
            return Err(Unreachable {
                url: target.to_string(),
                reason: reason.clone(),
            });
        }
        let challenges = if unauthenticated.www_authenticate.is_empty() {
            Err("no WWW-Authenticate header".to_owned())
        } else {
            www_authenticate::parse_all(unauthenticated.www_authenticate.iter().map(String::as_str))
                .map_err(|e| e.to_string())
        };
        let version = [(
            "MCP-Protocol-Version",
            speaker.revision().as_str().to_owned(),
        )];
        let mut other_methods = Vec::new();
        for method in ["GET", "DELETE"] {
            let answer = probe.mcp_without_body(method, target, None, &version).await;
            other_methods.push(answer.exchange);
        }
        Ok(Self {
            unauthenticated,
            challenges,
            other_methods,
        })
    }

    /// The Bearer challenge, if there is exactly the kind of header a client needs.
    pub fn bearer(&self) -> Option<&Challenge> {
        self.challenges
            .as_ref()
            .ok()?
            .iter()
            .find(|c| c.is_scheme("Bearer"))
    }

    /// The challenge's `resource_metadata`, when it is a URL.
    pub fn advertised_metadata(&self) -> Option<Url> {
        self.bearer()
            .and_then(|c| c.param("resource_metadata"))
            .and_then(|u| Url::parse(u).ok())
    }
}
