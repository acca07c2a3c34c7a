//! What every phase's requests share: the opening request of a revision sent alone, the redirect
//! URI the tester registers, and the server not answering at all.

use url::Url;

use super::mcp::Speaker;
use crate::probe::{Answer, Probe};

/// The server could not be reached at all.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct Unreachable {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// The opening request of `speaker`'s revision, alone (no session follows), with `headers`.
pub(super) async fn send(
    probe: &Probe,
    target: &Url,
    token: Option<&str>,
    speaker: &Speaker,
    headers: &[(&'static str, String)],
) -> Answer {
    let body = speaker.opening();
    let mut all = speaker.headers(&body);
    all.extend(headers.iter().cloned());
    probe.post_mcp_with(target, &body, token, &all).await
}

/// The redirect URI the tester registers: loopback, where any port matches (RFC 8252 §7.3).
/// The tester never listens there: it reads the response from the redirect itself.
pub const TESTER_CALLBACK: &str = "http://127.0.0.1/callback";

/// [`TESTER_CALLBACK`] as a URL.
pub fn tester_callback() -> Url {
    Url::parse(TESTER_CALLBACK).expect("a static URL")
}
