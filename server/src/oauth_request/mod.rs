//! What both authorization servers here (the façade and the development AS) read from OAuth
//! requests in the same way.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};

mod params;

pub use params::{MAX_PARAMS, OAuthForm, OAuthQuery, Params, ParamsError};

use crate::pkce;

/// An OAuth error code and a description for it.
pub type OAuthError = (&'static str, &'static str);

/// Checks an authorization request is the code flow with PKCE S256; returns the challenge.
pub fn code_flow_challenge<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<&'a str, OAuthError> {
    if get("response_type") != Some("code") {
        return Err((
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    let challenge =
        get("code_challenge").ok_or(("invalid_request", "code_challenge is required (PKCE)"))?;
    // RFC 7636 defaults a missing method to "plain", which OAuth 2.1 and MCP rule out.
    if get("code_challenge_method") != Some("S256") {
        return Err(("invalid_request", "code_challenge_method must be S256"));
    }
    if !pkce::is_s256_challenge(challenge) {
        return Err((
            "invalid_request",
            "code_challenge is not a base64url SHA-256 value",
        ));
    }
    Ok(challenge)
}

/// Checks a code redemption against what the code was issued for: the same client, the same
/// redirect URI, and the PKCE verifier of its challenge.
pub fn redemption(
    params: &Params,
    client_id: &str,
    code_client_id: &str,
    code_redirect_uri: &str,
    code_challenge: &str,
) -> Result<(), OAuthError> {
    if code_client_id != client_id {
        return Err(("invalid_grant", "the code was issued to another client"));
    }
    if params.get("redirect_uri") != Some(code_redirect_uri) {
        return Err((
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = params
        .get("code_verifier")
        .ok_or(("invalid_grant", "code_verifier is required (PKCE)"))?;
    if !pkce::verify_s256(verifier, code_challenge) {
        return Err((
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// Client credentials from `Authorization: Basic`: `None` without such a header, `Some(Err)`
/// when it is malformed. Both parts are form-urlencoded first (RFC 6749 section 2.3.1).
pub fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    Some((|| {
        let decoded =
            String::from_utf8(STANDARD.decode(encoded.trim()).map_err(|_| ())?).map_err(|_| ())?;
        let (id, secret) = decoded.split_once(':').ok_or(())?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok((unescape(id), unescape(secret)))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_endpoint_compares_redirect_uris_as_strings() {
        let registered = "http://127.0.0.1:9999/cb";
        let redeem = |redirect_uri: &str| {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", "v")
                .finish();
            let params = Params::parse(form.as_bytes()).unwrap();
            redemption(&params, "c", "c", registered, "challenge")
                .unwrap_err()
                .1
        };
        // The authorization request's own URI, port and all: nothing is parsed or repaired.
        for variant in [
            "http://127.0.0.1:9999/x/../cb",
            "http://127.0.0.1:9999/c%62",
            "http://127.0.0.1:09999/cb",
            "http://127.0.0.1:9998/cb",
            "http://LOCALHOST:9999/cb",
            " http://127.0.0.1:9999/cb",
        ] {
            assert_eq!(
                redeem(variant),
                "redirect_uri does not match the authorization request"
            );
        }
        assert_eq!(
            redeem(registered),
            "code_verifier does not match the code_challenge"
        );
    }

    #[test]
    fn code_flow_checks() {
        let ok = |k: &str| match k {
            "response_type" => Some("code"),
            "code_challenge" => Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            "code_challenge_method" => Some("S256"),
            _ => None,
        };
        assert!(code_flow_challenge(ok).is_ok());
        let plain = |k: &str| {
            if k == "code_challenge_method" {
                Some("plain")
            } else {
                ok(k)
            }
        };
        assert_eq!(code_flow_challenge(plain).unwrap_err().0, "invalid_request");
        let missing = |k: &str| {
            if k == "code_challenge_method" {
                None
            } else {
                ok(k)
            }
        };
        assert_eq!(
            code_flow_challenge(missing).unwrap_err().0,
            "invalid_request"
        );
        let token = |k: &str| {
            if k == "response_type" {
                Some("token")
            } else {
                ok(k)
            }
        };
        assert_eq!(
            code_flow_challenge(token).unwrap_err().0,
            "unsupported_response_type"
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        assert!(basic_credentials(&h).is_none());
        // "a%3Ab:s%2Bt" -> id "a:b", secret "s+t"
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode("a%3Ab:s%2Bt"))
                .parse()
                .unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(Ok(("a:b".to_owned(), "s+t".to_owned())))
        );
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&h), Some(Err(())));
    }
}
