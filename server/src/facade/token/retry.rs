//! A refresh answered twice: the same answer again for a short while.
//!
//! A refresh whose answer is lost (the connection cut, the store slow to confirm the write) is
//! retried by the client with the token it still holds, which the rotation already replaced;
//! two refreshes sent at once by one client race the same way. Without this, both look like a
//! stolen token reused, and the family is revoked, the rightful client included (issue 21: 3 of
//! 22 cut refreshes, and 19 of 20 concurrent ones). So the rotation keeps, for [`GRACE`], the
//! answer it gave, sealed with a key derived from the secret it replaced: only a request that
//! presents that secret, from the same client, within the window, gets it back, and nothing in
//! the store opens it (no new credential is readable at rest).

use std::time::Duration;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hkdf::{HKDF_SHA256, Salt},
    rand,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::secret;

/// How long the previous secret still gets the answer it was given.
pub const GRACE: Duration = Duration::from_secs(60);

/// The last rotation's answer, for a retry of the secret it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// SHA-256 of the replaced secret.
    replaced_sha256: String,
    /// Until when (seconds since the epoch) the answer is given again.
    until: u64,
    /// The answer, sealed with a key derived from the replaced secret.
    sealed: String,
}

const SALT: &[u8] = b"mcp-auth-kit refresh retry v1";

fn key(replaced_secret: &str) -> LessSafeKey {
    let prk = Salt::new(HKDF_SHA256, SALT).extract(replaced_secret.as_bytes());
    let okm = prk
        .expand(&[b"answer"], &AES_256_GCM)
        .expect("an AES-256 key is a valid HKDF output length");
    LessSafeKey::new(UnboundKey::from(okm))
}

impl Retry {
    /// Seals `answer` for a retry of `replaced_secret` until `now` + [`GRACE`].
    pub fn seal(replaced_secret: &str, answer: &serde_json::Value, now: u64) -> Option<Self> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).ok()?;
        let mut data = serde_json::to_vec(answer).ok()?;
        key(replaced_secret)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .ok()?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Some(Self {
            replaced_sha256: secret::sha256_hex(replaced_secret),
            until: now + GRACE.as_secs(),
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// The answer again, when `presented_secret` is the one replaced and the window is open.
    pub fn open(&self, presented_secret: &str, now: u64) -> Option<serde_json::Value> {
        if now >= self.until
            || !secret::equal(&self.replaced_sha256, &secret::sha256_hex(presented_secret))
        {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(&self.sealed).ok()?;
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = key(presented_secret)
            .open_in_place(nonce, Aad::empty(), &mut data)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_replaced_secret_within_the_window_opens_the_answer() {
        let answer = serde_json::json!({"access_token": "a", "refresh_token": "f.next"});
        let retry = Retry::seal("old-secret", &answer, 1000).unwrap();
        assert_eq!(retry.open("old-secret", 1000), Some(answer.clone()));
        assert_eq!(
            retry.open("old-secret", 1000 + GRACE.as_secs() - 1),
            Some(answer)
        );
        assert_eq!(
            retry.open("old-secret", 1000 + GRACE.as_secs()),
            None,
            "window closed"
        );
        assert_eq!(retry.open("other-secret", 1000), None);
        // Nothing stored reads as the answer.
        let stored = serde_json::to_string(&retry).unwrap();
        assert!(
            !stored.contains("f.next") && !stored.contains("access_token"),
            "{stored}"
        );
    }
}
