//! PKCE (RFC 7636): a random verifier and its S256 challenge.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// A code verifier: 32 random bytes, base64url (43 characters, the RFC's minimum entropy).
#[derive(Clone)]
pub struct Verifier(String);

impl Verifier {
    /// A fresh verifier from the operating system's random source.
    pub fn generate() -> Self {
        Self(random_string(32))
    }

    /// A verifier with a given value (tests, and deliberately wrong verifiers).
    pub fn from_value(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The verifier as sent to the token endpoint.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `BASE64URL(SHA256(verifier))`, the S256 challenge.
    pub fn s256_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier([redacted])")
    }
}

/// `bytes` random bytes as base64url: for verifiers and `state`.
pub fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let v = Verifier::from_value("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            v.s256_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_long_enough_and_differ() {
        let (a, b) = (Verifier::generate(), Verifier::generate());
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a.as_str(), b.as_str());
        assert!(!format!("{a:?}").contains(a.as_str()));
    }
}
