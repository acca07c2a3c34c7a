//! Every credential a run obtained or was given (access, refresh and ID tokens, authorization
//! codes, PKCE verifiers, client secrets, passwords), so that no report repeats one: a server may
//! echo any of them anywhere, raw, percent-encoded or inside base64.
//!
//! The probe registers what passes through it (a bearer token sent, a secret form field, a
//! token in a response, a code in a redirect); the run registers what it was given. The report
//! is scrubbed once, after judging and before any format is written.

use std::sync::{Arc, Mutex};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};

/// What a scrubbed credential is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not credentials worth hiding at the cost of a readable report (and a
/// real credential is never this short).
const SHORTEST: usize = 6;

/// The credentials of one run, shared by every probe of the run.
#[derive(Clone, Default)]
pub struct Secrets(Arc<Mutex<Vec<Secret>>>);

/// One credential and the forms it may take in a response.
struct Secret {
    value: String,
    /// The value and its encodings, longest first.
    forms: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} held)", self.lock().len())
    }
}

impl Secrets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Secret>> {
        // A panic elsewhere while holding the lock leaves a list that is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `value` as a credential (values too short to be one are ignored).
    pub fn add(&self, value: &str) {
        let value = value.trim();
        if value.chars().count() < SHORTEST {
            return;
        }
        let mut all = self.lock();
        if all.iter().any(|s| s.value == value) {
            return;
        }
        all.push(Secret {
            value: value.to_owned(),
            forms: forms(value),
        });
    }

    /// Whether `value` is a known credential.
    pub fn contains(&self, value: &str) -> bool {
        self.lock().iter().any(|s| s.value == value)
    }

    /// `text` with every form of every credential replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let all = self.lock();
        let mut forms: Vec<&str> = all
            .iter()
            .flat_map(|s| s.forms.iter().map(String::as_str))
            .collect();
        // Longest first: a whole token goes before a piece of another one's encoding.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut out = text.to_owned();
        for form in forms {
            if out.contains(form) {
                out = out.replace(form, REDACTED);
            }
        }
        out
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        let scrubbed = self.scrub(text);
        if scrubbed != *text {
            *text = scrubbed;
        }
    }
}

/// The forms a credential may take in a response: as is; percent-encoded (form and URL style,
/// either hex case); with `/` escaped as JSON may write it; and inside base64 or base64url, at
/// each of the three alignments it can have within a longer encoded text (only the characters
/// that depend on the credential alone, so a match does not depend on its neighbours).
fn forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    let percent: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    forms.push(percent.replace('+', "%20"));
    forms.push(lower_hex(&percent));
    forms.push(percent);
    if value.contains('/') {
        forms.push(value.replace('/', "\\/"));
    }
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = (8 * offset).div_ceil(6);
            let end = 8 * bytes.len() / 6;
            if end >= start + SHORTEST {
                forms.push(encoded[start..end].to_owned());
            }
        }
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}

/// `%2F` as `%2f`: some encoders write lower-case hex.
fn lower_hex(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut chars = percent.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOi.J9/pay+load.sig=";

    #[test]
    fn every_form_of_a_credential_is_scrubbed() {
        let secrets = Secrets::default();
        secrets.add(TOKEN);
        let percent: String = url::form_urlencoded::byte_serialize(TOKEN.as_bytes()).collect();
        for prefix in ["", "x", "xy", "xyz"] {
            for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
                let wrapped = engine.encode(format!("{prefix}{TOKEN} and more"));
                let scrubbed = secrets.scrub(&format!("blob {wrapped} end"));
                assert!(scrubbed.contains(REDACTED), "{prefix:?}: {scrubbed}");
                assert!(!scrubbed.contains(&wrapped), "{prefix:?}: {scrubbed}");
            }
        }
        for text in [
            format!("Bearer {TOKEN}"),
            format!("?t={percent}"),
            format!("?t={}", lower_hex(&percent)),
            format!("{{\"t\":\"{}\"}}", TOKEN.replace('/', "\\/")),
        ] {
            let scrubbed = secrets.scrub(&text);
            assert!(!scrubbed.contains("pay"), "{text} -> {scrubbed}");
        }
    }

    #[test]
    fn short_values_are_not_credentials() {
        let secrets = Secrets::default();
        secrets.add("abc");
        assert_eq!(secrets.scrub("abc def"), "abc def");
        assert!(!secrets.contains("abc"));
    }
}
