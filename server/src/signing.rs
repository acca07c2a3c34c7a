//! RS256 signing keys generated at start, for the development authorization server (and tests).
//!
//! Signing uses aws-lc-rs directly: jsonwebtoken's RSA encoder wants a PKCS#1 key, aws-lc-rs
//! generates PKCS#8, and a JWS is only `base64url(header).base64url(claims).base64url(sig)`.
//! Verification, the part that must be beyond reproach, stays with jsonwebtoken.

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::{KeyPair, KeySize},
    signature::RSA_PKCS1_SHA256,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde::Serialize;

/// An RSA key pair that signs RS256 JWTs under a key id.
pub struct Rs256Key {
    kid: String,
    key_pair: KeyPair,
    rng: SystemRandom,
}

/// Key generation or signing failed in the crypto library.
#[derive(Debug, thiserror::Error)]
#[error("RSA key operation failed: {0}")]
pub struct SigningError(&'static str);

impl std::fmt::Debug for Rs256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rs256Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Rs256Key {
    /// Generates a 2048-bit key.
    pub fn generate(kid: impl Into<String>) -> Result<Self, SigningError> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| SigningError("generate"))?;
        Ok(Self {
            kid: kid.into(),
            key_pair,
            rng: SystemRandom::new(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` with a `{"alg":"RS256","typ":"JWT","kid":...}` header.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, SigningError> {
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under any header: tests use it to forge headers that lie.
    pub fn sign_with_header(
        &self,
        header: &impl Serialize,
        claims: &impl Serialize,
    ) -> Result<String, SigningError> {
        let signing_input = format!("{}.{}", b64_json(header), b64_json(claims));
        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SigningError("sign"))?;
        Ok(format!("{signing_input}.{}", B64.encode(signature)))
    }

    /// The public key as a JWK (RFC 7517), for a JWKS document.
    pub fn public_jwk(&self) -> serde_json::Value {
        use aws_lc_rs::signature::KeyPair as _;
        let public = self.key_pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
            "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }
}

fn b64_json(value: &impl Serialize) -> String {
    B64.encode(serde_json::to_vec(value).expect("headers and claims serialize to JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, jwk::Jwk};

    #[test]
    fn tokens_verify_with_the_published_jwk() {
        let key = Rs256Key::generate("k1").unwrap();
        let token = key
            .sign(&serde_json::json!({ "sub": "u", "exp": 4_000_000_000u64 }))
            .unwrap();
        let jwk: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims = ["exp".to_owned()].into();
        let data =
            decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
                .unwrap();
        assert_eq!(data.claims["sub"], "u");
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
    }
}
