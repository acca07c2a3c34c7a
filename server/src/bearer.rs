//! Finding the access token in a request: the `Authorization: Bearer` header and nothing else
//! (MCP Authorization "Token Requirements"; a token in the query string is refused).

use http::{HeaderMap, Uri, header::AUTHORIZATION};

/// What a request carries by way of credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No token at all.
    Missing,
    /// A bearer token from the Authorization header.
    Bearer(&'a str),
    /// Something unusable; the reason is safe to show (it never contains the token).
    Invalid(&'static str),
}

/// Reads the credentials of a request.
pub fn credentials<'a>(headers: &'a HeaderMap, uri: &Uri) -> Credentials<'a> {
    // RFC 6750 section 2.3 lets servers take `access_token` from the query; MCP forbids it, and
    // a server that ignored it silently would invite clients to leak tokens into logs.
    if uri.query().is_some_and(query_has_access_token) {
        return Credentials::Invalid("access tokens are not accepted in the query string");
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Credentials::Missing;
    };
    if values.next().is_some() {
        return Credentials::Invalid("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Credentials::Invalid("the Authorization header is not ASCII");
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Credentials::Invalid("the Authorization header is not \"Bearer <token>\"");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credentials::Invalid("only the Bearer scheme is accepted");
    }
    let token = token.trim_matches(' ');
    // RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let shape_ok = !token.is_empty()
        && token
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !shape_ok {
        return Credentials::Invalid("the bearer token is malformed");
    }
    Credentials::Bearer(token)
}

fn query_has_access_token(query: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "access_token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_auth(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn bearer_header_is_read() {
        let h = with_auth(&["Bearer abc.def-ghi_jkl~+/="]);
        assert_eq!(
            credentials(&h, &uri("/mcp")),
            Credentials::Bearer("abc.def-ghi_jkl~+/=")
        );
        let h = with_auth(&["bearer abc"]);
        assert_eq!(credentials(&h, &uri("/mcp")), Credentials::Bearer("abc"));
    }

    #[test]
    fn missing_and_malformed() {
        assert_eq!(
            credentials(&HeaderMap::new(), &uri("/mcp")),
            Credentials::Missing
        );
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Token abc",
        ] {
            assert!(
                matches!(
                    credentials(&with_auth(&[bad]), &uri("/mcp")),
                    Credentials::Invalid(_)
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            credentials(&with_auth(&["Bearer a", "Bearer b"]), &uri("/mcp")),
            Credentials::Invalid(_)
        ));
    }

    #[test]
    fn a_token_in_the_query_is_refused_even_with_a_header() {
        let h = with_auth(&["Bearer abc"]);
        assert!(matches!(
            credentials(&h, &uri("/mcp?access_token=abc")),
            Credentials::Invalid(_)
        ));
        assert!(matches!(
            credentials(&HeaderMap::new(), &uri("/mcp?x=1&access_token=abc")),
            Credentials::Invalid(_)
        ));
        assert_eq!(
            credentials(&h, &uri("/mcp?x=1")),
            Credentials::Bearer("abc")
        );
    }
}
