//! The pages people see (development sign-in, consent, errors): maud templates, so every value is
//! escaped unless a template says otherwise, and one set of headers on every page: not framed,
//! not cached, nothing loaded, forms sent only where the flow goes.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};
use url::{Host, Url};

/// The CSS every page shares; a page adds its own after it.
const BASE_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;\
                          padding:0 1rem}.warn{background:#fff3cd;padding:.5rem;border-radius:4px}\
                          .error{color:#b00020}";

/// A page: its status, title, page-specific CSS, body, and where its forms may send the browser.
pub struct Page {
    status: StatusCode,
    title: &'static str,
    style: &'static str,
    body: Markup,
    /// CSP sources beyond `'self'`; `None`: no `form-action` at all.
    form_targets: Option<Vec<String>>,
}

impl Page {
    /// A 200 page whose forms (if any) post only to this server.
    pub fn new(title: &'static str, style: &'static str, body: Markup) -> Self {
        Self {
            status: StatusCode::OK,
            title,
            style,
            body,
            form_targets: Some(Vec::new()),
        }
    }

    /// The page with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Lets the page's forms lead to `uri` too. Chromium applies `form-action` to every redirect
    /// after a submission, so each place the flow redirects to after a form must be named here.
    pub fn forms_may_reach(mut self, uri: &str) -> Self {
        if let (Some(targets), Some(source)) = (&mut self.form_targets, form_source(uri))
            && !targets.contains(&source)
        {
            targets.push(source);
        }
        self
    }

    /// Leaves the page's forms unrestricted: for a form whose redirects lead to places the page
    /// cannot know (a sign-in whose callback redirects on to the next client).
    pub fn forms_may_reach_anywhere(mut self) -> Self {
        self.form_targets = None;
        self
    }

    /// The document, as sent.
    pub fn render(&self) -> String {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    title { (self.title) }
                    style { (BASE_STYLE) (self.style) }
                }
                body { (self.body) }
            }
        }
        .into_string()
    }

    fn content_security_policy(&self) -> String {
        let mut csp = String::from(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        );
        if let Some(targets) = &self.form_targets {
            csp.push_str("; form-action 'self'");
            for source in targets {
                csp.push(' ');
                csp.push_str(source);
            }
        }
        csp
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let csp = HeaderValue::from_str(&self.content_security_policy())
            .expect("CSP sources are built from parsed URLs' ASCII origins and schemes");
        let mut response = (self.status, Html(self.render())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        // For browsers without CSP's frame-ancestors: a framed page is a clickjacked button.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Page URLs carry authorization requests; same-origin keeps `Origin` on our own forms.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// The CSP source that admits navigations to `uri`: its origin for a named or IPv4 host (CSP
/// host sources cannot spell IPv6 literals), otherwise its scheme (`http:`, `com.example.app:`).
/// Parsing first keeps anything but ASCII origin characters out of the header; `None` for a
/// target no redirect can reach (unparsable) or none may (script-bearing schemes).
fn form_source(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    match (url.scheme(), url.host()) {
        ("http" | "https", Some(Host::Domain(_) | Host::Ipv4(_))) => {
            Some(url.origin().ascii_serialization())
        }
        // Never a redirect URI (registration refuses them): admitting one would admit them all.
        ("javascript" | "data" | "vbscript" | "file" | "blob", _) => None,
        (scheme, _) => Some(format!("{scheme}:")),
    }
}

/// An error page, for requests that cannot be sent back to a client.
pub fn error_page(status: StatusCode, message: &str) -> Page {
    Page::new(
        "Authorization error",
        "",
        html! {
            h1 { "Authorization error" }
            p { (message) }
        },
    )
    .with_status(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page: Page, name: header::HeaderName) -> String {
        page.into_response().headers()[name]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn error_messages_are_escaped() {
        let page = error_page(StatusCode::BAD_REQUEST, r#"<script>"'&</script>"#).render();
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;&quot;'&amp;&lt;/script&gt;"),
            "{page}"
        );
    }

    #[test]
    fn every_page_refuses_framing_caching_and_loading() {
        let response = error_page(StatusCode::NOT_FOUND, "x").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let h = response.headers();
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'"
        );
    }

    #[test]
    fn forms_reach_the_origins_named_and_no_further() {
        let page = Page::new("t", "", html! {})
            .forms_may_reach("https://auth.example.com/oauth2/authorize?x=1")
            .forms_may_reach("http://127.0.0.1:8123/callback")
            .forms_may_reach("http://[::1]:8123/callback")
            .forms_may_reach("com.example.app:/oauth")
            .forms_may_reach("https://auth.example.com/other");
        let csp = header(page, header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.ends_with(
                "form-action 'self' https://auth.example.com http://127.0.0.1:8123 http: \
                 com.example.app:"
            ),
            "{csp}"
        );
    }

    #[test]
    fn hostile_targets_cannot_add_directives() {
        for (uri, admitted) in [
            ("https://a.example; script-src *", ""),
            ("https://a.example/x; script-src *", " https://a.example"),
            ("javascript:alert(1);script-src *", ""),
            ("data:text/html,x", ""),
            ("not a uri", ""),
        ] {
            let csp = header(
                Page::new("t", "", html! {}).forms_may_reach(uri),
                header::CONTENT_SECURITY_POLICY,
            );
            assert!(
                csp.ends_with(&format!(
                    "frame-ancestors 'none'; form-action 'self'{admitted}"
                )),
                "{uri}: {csp}"
            );
        }
    }
}
