//! The parameters of an OAuth request, from its query or its form body: parsed once, in linear
//! time, at most [`MAX_PARAMS`] of them, each name remembered if it repeats (RFC 6749 section 3.1:
//! request parameters MUST NOT be included more than once).
//!
//! Every OAuth endpoint of both authorization servers here reads its parameters through
//! [`OAuthQuery`] or [`OAuthForm`], so none of them can be made to do quadratic work, and none
//! silently keeps the last of two `redirect_uri`s.

use std::collections::{HashMap, hash_map::Entry};

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};

/// More parameters than any OAuth endpoint here reads, by a wide margin.
pub const MAX_PARAMS: usize = 64;

/// Why a request's parameters could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Over [`MAX_PARAMS`].
    #[error("the request has more than {MAX_PARAMS} parameters")]
    TooMany,
    /// A form body without the form content type.
    #[error("the request body must be application/x-www-form-urlencoded")]
    NotForm,
    /// The body could not be read (too large, or the connection failed).
    #[error("the request body could not be read")]
    Unreadable,
}

impl axum::response::IntoResponse for ParamsError {
    fn into_response(self) -> axum::response::Response {
        (http::StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}

/// A request's parameters: the first value of each name, and the names that repeated.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: HashMap<String, String>,
    // At most MAX_PARAMS names, in the order they first repeated.
    repeated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query or a form body).
    pub fn parse(input: &[u8]) -> Result<Self, ParamsError> {
        let mut params = Self::default();
        for (count, (name, value)) in url::form_urlencoded::parse(input).enumerate() {
            if count == MAX_PARAMS {
                return Err(ParamsError::TooMany);
            }
            match params.values.entry(name.into_owned()) {
                Entry::Vacant(slot) => {
                    slot.insert(value.into_owned());
                }
                Entry::Occupied(slot) => {
                    if !params.repeated.contains(slot.key()) {
                        params.repeated.push(slot.key().clone());
                    }
                }
            }
        }
        Ok(params)
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 section 3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` was sent more than once.
    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    /// The first parameter sent more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }

    /// Refuses a request in which any parameter repeats, naming it.
    pub fn refuse_repeated(&self) -> Result<(), String> {
        match self.repeated() {
            Some(name) => Err(format!("parameter {name} is repeated")),
            None => Ok(()),
        }
    }
}

/// The parameters of a request's query.
#[derive(Debug, Clone)]
pub struct OAuthQuery(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for OAuthQuery {
    type Rejection = ParamsError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Params::parse(parts.uri.query().unwrap_or_default().as_bytes()).map(Self)
    }
}

/// The parameters of a request's `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone)]
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ParamsError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ParamsError::NotForm);
        }
        // The body's size is bounded by the server-wide body limit.
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ParamsError::Unreadable)?;
        Params::parse(&body).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_values_and_the_repeated_name() {
        let p = Params::parse(b"a=1&b=&c=3&a=2").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None, "empty counts as absent");
        assert_eq!(p.get("c"), Some("3"));
        assert_eq!(p.repeated(), Some("a"));
        assert!(p.is_repeated("a") && !p.is_repeated("c"));
        assert!(p.refuse_repeated().unwrap_err().contains("a is repeated"));
        let p = Params::parse(b"x=%20y&z=a+b").unwrap();
        assert_eq!(p.get("x"), Some(" y"));
        assert_eq!(p.get("z"), Some("a b"));
        assert!(p.refuse_repeated().is_ok());
    }

    #[test]
    fn an_empty_repeat_is_still_a_repeat() {
        let p = Params::parse(b"redirect_uri=https://a.example/cb&redirect_uri=").unwrap();
        assert_eq!(p.repeated(), Some("redirect_uri"));
    }

    #[test]
    fn the_count_is_capped_before_anything_is_kept() {
        let at_cap: String = (0..MAX_PARAMS).map(|i| format!("k{i}=v&")).collect();
        assert!(Params::parse(at_cap.as_bytes()).is_ok());
        let over: String = (0..=MAX_PARAMS).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(
            Params::parse(over.as_bytes()).unwrap_err(),
            ParamsError::TooMany
        );
        // What once took the runtime for seconds: 160,000 distinct keys in a 1 MiB body.
        let flood: String = (0..160_000).map(|i| format!("k{i}=&")).collect();
        assert_eq!(
            Params::parse(flood.as_bytes()).unwrap_err(),
            ParamsError::TooMany
        );
    }
}
