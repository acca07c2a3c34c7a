//! Form posts that change state (the façade's consent, the development AS's sign-in) come from
//! the server's own pages: the one same-origin rule they all follow.

use axum::http::{HeaderMap, header};

/// Whether a form post comes from a page of `issuer`'s origin, as far as the browser says:
/// a foreign `Origin`, or `Sec-Fetch-Site` other than `same-origin`, is another site posting
/// (cookie tossing from a sibling host of an http issuer could otherwise forge a consent). A
/// request with neither header is not a browser's (or an old one's) and is judged by the CSRF
/// token alone.
pub fn posted_from(headers: &HeaderMap, issuer_origin: &str) -> bool {
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect()
    };
    let origins = values(header::ORIGIN.as_str());
    let sites = values("sec-fetch-site");
    origins
        .iter()
        .all(|o| o.eq_ignore_ascii_case(issuer_origin))
        && sites.iter().all(|s| s.eq_ignore_ascii_case("same-origin"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_form_posted_from_another_site_is_not_this_origins() {
        let mut h = HeaderMap::new();
        let origin = "http://127.0.0.1:8080";
        assert!(
            posted_from(&h, origin),
            "no browser headers: the CSRF token decides"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(posted_from(&h, origin));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(!posted_from(&h, origin), "a sibling host");
        h.remove("sec-fetch-site");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.localhost:8080"),
        );
        assert!(!posted_from(&h, origin));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!posted_from(&h, origin), "an opaque origin");
    }
}
