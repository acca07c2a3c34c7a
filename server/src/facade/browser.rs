//! What ties an authorization to the browser that approved it.
//!
//! Three things, all keyed with the façade's key (the same on every replica):
//! - the browser id: a random id in a signed cookie, set when the consent page is first shown; a
//!   value the server did not sign is not a browser id;
//! - the consent form's CSRF token: a MAC of the browser id and the consent request, so only the
//!   browser that was shown the page can answer it;
//! - the flow cookie, set on the redirect to the upstream only after consent (given now, or
//!   remembered for this browser): a MAC of the upstream `state`. `/oauth/callback` refuses a
//!   `state` without it, so an upstream authorization URL sent to another browser (whose
//!   upstream session would sign in silently) ends on an error page, not at the client's
//!   redirect URI (the confused-deputy attack of the MCP security best practices).
//!
//! Cookies are `HttpOnly`, `SameSite=Lax` (the upstream's redirect back is a top-level GET, which
//! Lax lets through) and `Path=/`; on an https issuer also `Secure` and `__Host-` prefixed.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::secret;

/// How long a browser id lives (as long as a remembered consent).
pub const BROWSER_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a flow cookie lives: as long as the upstream sign-in may take.
pub const FLOW_TTL: Duration = Duration::from_secs(600);

/// The key and the cookie attributes the issuer's scheme allows.
pub struct BrowserBinding {
    key: Vec<u8>,
    secure: bool,
}

/// A browser id read from a cookie whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserId(String);

impl BrowserId {
    /// The id, for keys and MACs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BrowserBinding {
    /// Binding with `key`; `secure` when the issuer is https.
    pub fn new(key: Vec<u8>, secure: bool) -> Self {
        Self { key, secure }
    }

    /// HMAC-SHA256 over a purpose and parts, each separated so that no two inputs collide.
    pub fn mac(&self, purpose: &str, parts: &[&str]) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key);
        let mut context = aws_lc_rs::hmac::Context::with_key(&key);
        context.update(purpose.as_bytes());
        for part in parts {
            context.update(&[0]);
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }

    /// Whether `tag` is the MAC of `purpose` and `parts`, compared in constant time.
    pub fn verify(&self, purpose: &str, parts: &[&str], tag: &str) -> bool {
        secret::equal(&self.mac(purpose, parts), tag)
    }

    fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    fn set_cookie(&self, name: &str, value: &str, max_age: Duration) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            max_age.as_secs()
        ))
        .expect("cookie names and values here are base64url")
    }

    /// The browser id of a request, if it carries one this server signed.
    pub fn browser_id(&self, headers: &HeaderMap) -> Option<BrowserId> {
        let value = cookie(headers, &self.name("mcpak_browser"))?;
        let (id, tag) = value.split_once('.')?;
        self.verify("browser", &[id], tag)
            .then(|| BrowserId(id.to_owned()))
    }

    /// A new browser id and the `Set-Cookie` value that gives it to the browser.
    pub fn new_browser(&self) -> (BrowserId, HeaderValue) {
        let id = secret::random_token(32);
        let value = format!("{id}.{}", self.mac("browser", &[&id]));
        let header = self.set_cookie(&self.name("mcpak_browser"), &value, BROWSER_TTL);
        (BrowserId(id), header)
    }

    fn flow_cookie_name(&self, upstream_state: &str) -> String {
        let tag = self.mac("flow-name", &[upstream_state]);
        self.name(&format!("mcpak_flow_{}", &tag[..16]))
    }

    /// The `Set-Cookie` value that marks this browser as the one that approved the flow
    /// `upstream_state` stands for.
    pub fn flow_cookie(&self, upstream_state: &str) -> HeaderValue {
        let value = self.mac("flow", &[upstream_state]);
        self.set_cookie(&self.flow_cookie_name(upstream_state), &value, FLOW_TTL)
    }

    /// Whether the request comes from the browser that approved the flow `upstream_state`.
    pub fn approved_flow(&self, headers: &HeaderMap, upstream_state: &str) -> bool {
        cookie(headers, &self.flow_cookie_name(upstream_state))
            .is_some_and(|value| self.verify("flow", &[upstream_state], value))
    }

    /// The `Set-Cookie` value that removes the flow cookie once the flow is over.
    pub fn clear_flow_cookie(&self, upstream_state: &str) -> HeaderValue {
        self.set_cookie(&self.flow_cookie_name(upstream_state), "", Duration::ZERO)
    }
}

/// A cookie's value; `None` when absent or sent more than once (a sign of injection).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The headers of a browser that sends back the cookie `set` set.
#[cfg(test)]
pub(crate) fn with_cookie(set: &HeaderValue) -> HeaderMap {
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut h = HeaderMap::new();
    h.insert(header::COOKIE, pair.parse().unwrap());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_id_is_only_what_the_server_signed() {
        let binding = BrowserBinding::new(b"k".repeat(32), false);
        let (id, set) = binding.new_browser();
        assert_eq!(binding.browser_id(&with_cookie(&set)), Some(id));
        let mut forged = HeaderMap::new();
        let arbitrary = format!("mcpak_browser={}", "a".repeat(43));
        forged.insert(header::COOKIE, arbitrary.parse().unwrap());
        assert_eq!(
            binding.browser_id(&forged),
            None,
            "43 characters are not enough"
        );
        let other_key = BrowserBinding::new(b"x".repeat(32), false);
        assert_eq!(other_key.browser_id(&with_cookie(&set)), None);
    }

    #[test]
    fn cookie_attributes_follow_the_scheme() {
        let https = BrowserBinding::new(b"k".repeat(32), true);
        let set = https.flow_cookie("state-1");
        let text = set.to_str().unwrap();
        assert!(text.starts_with("__Host-mcpak_flow_"), "{text}");
        for attribute in [
            "; Path=/",
            "; HttpOnly",
            "; SameSite=Lax",
            "; Secure",
            "Max-Age=600",
        ] {
            assert!(text.contains(attribute), "{attribute} in {text}");
        }
        assert!(!text.contains("Domain"), "__Host- cookies name no domain");
        let http = BrowserBinding::new(b"k".repeat(32), false);
        let text = http.flow_cookie("state-1").to_str().unwrap().to_owned();
        assert!(
            text.starts_with("mcpak_flow_") && !text.contains("Secure"),
            "{text}"
        );
    }

    #[test]
    fn a_flow_cookie_approves_its_own_state_only() {
        let binding = BrowserBinding::new(b"k".repeat(32), true);
        let headers = with_cookie(&binding.flow_cookie("state-1"));
        assert!(binding.approved_flow(&headers, "state-1"));
        assert!(!binding.approved_flow(&headers, "state-2"));
        assert!(!binding.approved_flow(&HeaderMap::new(), "state-1"));
        // The same cookie twice (one injected) is refused rather than guessed at.
        let pair = headers[header::COOKIE].to_str().unwrap().to_owned();
        let mut twice = HeaderMap::new();
        twice.insert(header::COOKIE, format!("{pair}; {pair}").parse().unwrap());
        assert!(!binding.approved_flow(&twice, "state-1"));
    }

    #[test]
    fn macs_separate_their_parts() {
        let binding = BrowserBinding::new(b"k".repeat(32), true);
        assert_ne!(
            binding.mac("p", &["ab", "c"]),
            binding.mac("p", &["a", "bc"])
        );
        assert_ne!(binding.mac("p", &["a"]), binding.mac("q", &["a"]));
    }
}
