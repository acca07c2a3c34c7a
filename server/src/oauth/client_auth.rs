//! Client authentication at a token or revocation endpoint (RFC 6749 section 2.3.1): what the
//! client presented, read the same way by both authorization servers here. Each then holds it
//! to its own client record.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    error::{ErrorCode, TokenError},
    params::Params,
};

/// How a client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic,
    /// `client_secret` in the body (`client_secret_post`).
    Post,
    /// No secret: a public client (`none`).
    None,
}

/// The client a request says it is, and the secret it gave.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The client id (empty when the request names none).
    pub client_id: String,
    /// The secret, when one was given.
    pub secret: Option<String>,
    /// How.
    pub scheme: Scheme,
    realm: &'static str,
}

impl Presented {
    /// Reads the credentials of a request to an endpoint whose Basic challenge names `realm`.
    /// Refused: both a Basic header and a body secret (which would be trusted is unknowable), a
    /// malformed Basic header, and a body `client_id` other than the Basic one.
    pub fn read(
        headers: &HeaderMap,
        params: &Params,
        realm: &'static str,
    ) -> Result<Self, TokenError> {
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        let presented = match (basic_credentials(headers), body_secret) {
            (Some(_), Some(_)) => {
                return Err(TokenError::new(
                    ErrorCode::InvalidRequest,
                    "use one client authentication method",
                ));
            }
            (Some(basic), None) => {
                let Ok((client_id, secret)) = basic else {
                    return Err(failed(Scheme::Basic, realm));
                };
                if body_id.is_some_and(|b| b != client_id) {
                    return Err(TokenError::new(
                        ErrorCode::InvalidRequest,
                        "client_id differs from the authenticated client",
                    ));
                }
                Self {
                    client_id,
                    secret: Some(secret),
                    scheme: Scheme::Basic,
                    realm,
                }
            }
            (None, secret) => Self {
                client_id: body_id.unwrap_or_default().to_owned(),
                secret: secret.map(str::to_owned),
                scheme: if secret.is_some() {
                    Scheme::Post
                } else {
                    Scheme::None
                },
                realm,
            },
        };
        Ok(presented)
    }

    /// The refusal of these credentials: `invalid_client`, with the Basic challenge when the
    /// client used Basic (RFC 6749 section 5.2).
    pub fn refused(&self) -> TokenError {
        failed(self.scheme, self.realm)
    }
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

fn failed(scheme: Scheme, realm: &'static str) -> TokenError {
    let refused = TokenError::new(ErrorCode::InvalidClient, "client authentication failed");
    match scheme {
        Scheme::Basic => refused.with_basic_challenge(realm),
        Scheme::Post | Scheme::None => refused,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn read(basic: Option<&str>, body: &str) -> Result<Presented, TokenError> {
        let mut headers = HeaderMap::new();
        if let Some(b) = basic {
            let value = format!("Basic {}", STANDARD.encode(b));
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        Presented::read(&headers, &Params::parse(body.as_bytes()).unwrap(), "test")
    }

    #[test]
    fn each_scheme_is_read_and_ambiguity_refused() {
        let basic = read(Some("c1:s1"), "grant_type=x").unwrap();
        assert_eq!(
            (
                basic.client_id.as_str(),
                basic.secret.as_deref(),
                basic.scheme
            ),
            ("c1", Some("s1"), Scheme::Basic)
        );
        let post = read(None, "client_id=c1&client_secret=s1").unwrap();
        assert_eq!(post.scheme, Scheme::Post);
        let public = read(None, "client_id=c1").unwrap();
        assert_eq!((public.scheme, public.secret), (Scheme::None, None));
        // The same id in the body as in Basic is fine; another is not.
        assert!(read(Some("c1:s1"), "client_id=c1").is_ok());
        let other = read(Some("c1:s1"), "client_id=c2").unwrap_err();
        assert_eq!(other.code(), ErrorCode::InvalidRequest);
        let both = read(Some("c1:s1"), "client_secret=s1").unwrap_err();
        assert_eq!(both.code(), ErrorCode::InvalidRequest);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        let malformed =
            Presented::read(&headers, &Params::parse(b"").unwrap(), "test").unwrap_err();
        assert_eq!(malformed.code(), ErrorCode::InvalidClient);
        assert!(malformed.into_response_has_basic_challenge());
    }

    impl TokenError {
        fn into_response_has_basic_challenge(self) -> bool {
            use axum::response::IntoResponse;
            self.into_response()
                .headers()
                .contains_key(header::WWW_AUTHENTICATE)
        }
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
