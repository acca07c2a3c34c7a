//! Tokens forged from the valid one, which only a server that verifies signatures refuses: its
//! signature altered (header and claims as issued, so a server that decodes without verifying
//! takes it), and its claims signed by a key of the tester's own under the genuine `kid`, with
//! that key's public half in a `jwk` header (so a server that trusts a key the token brings, or
//! any key at all, takes it).

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::KeySize,
    signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// Why a token cannot be forged from the valid one.
pub type NotForgeable = String;

/// The parts of a JWT: decoded header, the two encoded segments, the signature bytes.
struct Jwt {
    header: Value,
    header_b64: String,
    claims_b64: String,
    signature: Vec<u8>,
}

fn parse(token: &str) -> Result<Jwt, NotForgeable> {
    let not_jwt =
        || "the valid token is not a signed JWT (opaque tokens cannot be forged this way)";
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(not_jwt().into());
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_jwt)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| not_jwt())?;
    if signature.is_empty() || URL_SAFE_NO_PAD.decode(c).is_err() {
        return Err(not_jwt().into());
    }
    Ok(Jwt {
        header,
        header_b64: h.to_owned(),
        claims_b64: c.to_owned(),
        signature,
    })
}

/// The valid token with one bit of its signature flipped: header and claims exactly as issued.
pub fn tampered_signature(token: &str) -> Result<String, NotForgeable> {
    let jwt = parse(token)?;
    let mut signature = jwt.signature;
    let middle = signature.len() / 2;
    signature[middle] ^= 0x01;
    Ok(format!(
        "{}.{}.{}",
        jwt.header_b64,
        jwt.claims_b64,
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The valid token's claims, signed by a fresh key of the tester's with the token's own `alg`
/// and `kid`, the key's public half as a `jwk` header.
pub fn signed_by_a_foreign_key(token: &str) -> Result<String, NotForgeable> {
    let jwt = parse(token)?;
    let alg = jwt.header["alg"].as_str().unwrap_or_default().to_owned();
    let signer = Signer::for_alg(&alg)?;
    let mut header = json!({"alg": alg, "typ": "JWT", "jwk": signer.public_jwk()});
    if let Some(kid) = jwt.header.get("kid") {
        header["kid"] = kid.clone();
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        jwt.claims_b64
    );
    let signature = signer.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// A key of the tester's own, of the family the token's `alg` names.
enum Signer {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
}

impl Signer {
    fn for_alg(alg: &str) -> Result<Self, NotForgeable> {
        let failed = |_| NotForgeable::from("generating a signing key failed");
        match alg {
            "RS256" => Ok(Signer::Rs256(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?,
            )),
            "ES256" => Ok(Signer::Es256(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(failed)?,
            )),
            other => Err(format!(
                "the valid token's alg {other:?} is not one the tester signs with (RS256, ES256)"
            )),
        }
    }

    fn public_jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Signer::Rs256(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Signer::Es256(key) => {
                // Uncompressed point: 0x04, then x and y, 32 bytes each.
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&point[1..33]),
                    "y": b64(&point[33..65]),
                })
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, NotForgeable> {
        let rng = SystemRandom::new();
        let failed = |_| NotForgeable::from("signing the forged token failed");
        match self {
            Signer::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            Signer::Es256(key) => Ok(key.sign(&rng, input).map_err(failed)?.as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(v: Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token(alg: &str) -> String {
        format!(
            "{}.{}.{}",
            segment(json!({"alg": alg, "kid": "k1"})),
            segment(json!({"sub": "u", "exp": 4_000_000_000u64})),
            URL_SAFE_NO_PAD.encode([7u8; 64])
        )
    }

    #[test]
    fn a_tampered_token_keeps_everything_but_one_bit() {
        let valid = token("RS256");
        let forged = tampered_signature(&valid).unwrap();
        assert_ne!(forged, valid);
        let (a, b) = (
            valid.rsplit_once('.').unwrap(),
            forged.rsplit_once('.').unwrap(),
        );
        assert_eq!(a.0, b.0, "header and claims as issued");
        assert_eq!(a.1.len(), b.1.len());
    }

    #[test]
    fn a_foreign_key_signs_the_same_claims_under_the_same_kid_and_verifies_with_its_jwk() {
        for alg in ["RS256", "ES256"] {
            let forged = signed_by_a_foreign_key(&token(alg)).unwrap();
            let jwt = parse(&forged).unwrap();
            assert_eq!(jwt.header["kid"], "k1");
            assert_eq!(jwt.header["alg"], alg);
            assert_eq!(jwt.claims_b64, token(alg).split('.').nth(1).unwrap());
            // The signature is genuine for the key it brings: only which key is trusted decides.
            let input = format!("{}.{}", jwt.header_b64, jwt.claims_b64);
            let jwk = &jwt.header["jwk"];
            let raw = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap()).unwrap();
            let verified = match alg {
                "RS256" => signature::RsaPublicKeyComponents {
                    n: raw("n"),
                    e: raw("e"),
                }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    input.as_bytes(),
                    &jwt.signature,
                ),
                _ => {
                    let point = [vec![4u8], raw("x"), raw("y")].concat();
                    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(input.as_bytes(), &jwt.signature)
                }
            };
            assert!(verified.is_ok(), "{alg}");
        }
    }

    #[test]
    fn opaque_tokens_and_other_algs_cannot_be_forged() {
        assert!(tampered_signature("opaque-token").is_err());
        assert!(tampered_signature("a.b").is_err());
        let unsigned = format!(
            "{}.{}.",
            segment(json!({"alg": "none"})),
            segment(json!({}))
        );
        assert!(tampered_signature(&unsigned).is_err());
        let e = signed_by_a_foreign_key(&token("PS512")).unwrap_err();
        assert!(e.contains("PS512"), "{e}");
    }
}
