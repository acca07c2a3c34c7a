//! What both authorization servers here (the façade and the development AS) read from OAuth
//! requests in the same way.

mod client_auth;
mod error;
mod params;

pub use client_auth::{Presented, Scheme, basic_credentials};
pub use error::{ErrorCode, OAuthError, TokenError, shown, token_response};
pub use params::{MAX_PARAMS, OAuthForm, OAuthQuery, Params, ParamsError};

use crate::pkce;

/// The grant a token request asks for (`grant_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
}

impl Grant {
    /// The grant `params` ask for: `invalid_request` without one, `unsupported_grant_type` for
    /// any other.
    pub fn of(params: &Params) -> Result<Self, TokenError> {
        match params.get("grant_type") {
            Some("authorization_code") => Ok(Self::AuthorizationCode),
            Some("refresh_token") => Ok(Self::RefreshToken),
            Some(other) => Err(TokenError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {} is not supported", shown(other)),
            )),
            None => Err(TokenError::new(
                ErrorCode::InvalidRequest,
                "grant_type is required",
            )),
        }
    }
}

/// Checks an authorization request is the code flow with PKCE S256; returns the challenge.
pub fn code_flow_challenge<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<&'a str, OAuthError> {
    if get("response_type") != Some("code") {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "only response_type=code is supported",
        ));
    }
    let challenge = get("code_challenge").ok_or(OAuthError::new(
        ErrorCode::InvalidRequest,
        "code_challenge is required (PKCE)",
    ))?;
    // RFC 7636 defaults a missing method to "plain", which OAuth 2.1 and MCP rule out.
    if get("code_challenge_method") != Some("S256") {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "code_challenge_method must be S256",
        ));
    }
    if !pkce::is_s256_challenge(challenge) {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
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
        return Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "the code was issued to another client",
        ));
    }
    if params.get("redirect_uri") != Some(code_redirect_uri) {
        return Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = params.get("code_verifier").ok_or(OAuthError::new(
        ErrorCode::InvalidGrant,
        "code_verifier is required (PKCE)",
    ))?;
    if !pkce::verify_s256(verifier, code_challenge) {
        return Err(OAuthError::new(
            ErrorCode::InvalidGrant,
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
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
                .description
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
        assert_eq!(
            code_flow_challenge(plain).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let missing = |k: &str| {
            if k == "code_challenge_method" {
                None
            } else {
                ok(k)
            }
        };
        assert_eq!(
            code_flow_challenge(missing).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        let token = |k: &str| {
            if k == "response_type" {
                Some("token")
            } else {
                ok(k)
            }
        };
        assert_eq!(
            code_flow_challenge(token).unwrap_err().code,
            ErrorCode::UnsupportedResponseType
        );
    }
}
