//! HTTP exchanges with the server under test, recorded as evidence: the request, the status, the
//! headers that matter, and a body excerpt with tokens and secrets redacted. URLs on the target's
//! own origin are kept as paths, so reports do not change with the port a server runs on.

use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::secrets::Secrets;

/// Largest body excerpt kept as evidence.
const EXCERPT: usize = 400;
/// Fields whose values are credentials: they never appear in evidence, and are registered with
/// the run's [`Secrets`] wherever they pass.
const CREDENTIAL_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "password",
    "code_verifier",
];

/// Whether a field's value never appears in evidence: a credential, or a form's CSRF token.
fn secret_field(name: &str) -> bool {
    CREDENTIAL_FIELDS.contains(&name) || name == "csrf"
}
/// Query parameters generated per run: replaced in evidence, so reports diff cleanly.
const VOLATILE_QUERY: &[&str] = &[
    "client_id",
    "state",
    "code_challenge",
    "redirect_uri",
    "login_id",
    "consent_id",
    "nonce",
];
/// JSON fields generated per run (ids, times): replaced, so reports diff cleanly.
const VOLATILE_FIELDS: &[&str] = &[
    "client_id",
    "client_id_issued_at",
    "client_secret_expires_at",
    "iat",
    "exp",
    "nbf",
    "auth_time",
    "jti",
];

/// One request and what came back.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Exchange {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The URL; a path when on the target's origin.
    pub url: String,
    /// The status, if a response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The Content-Type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Where a redirect points, shown as URLs are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Every WWW-Authenticate value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub www_authenticate: Vec<String>,
    /// `Access-Control-Allow-Origin`, when the request named an origin and it came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_control_allow_origin: Option<String>,
    /// `Cache-Control`, on responses that carry credentials (OAuth 2.1 §3.2.3 asks `no-store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// Whether the response repeated the token the request carried (replaced here by
    /// `[the token]`, so reports never hold it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub token_echoed: bool,
    /// The start of the body, redacted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Why no response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Exchange {
    /// Takes every credential of `secrets` out of everything the server sent or was sent.
    pub fn scrub(&mut self, secrets: &Secrets) {
        let Exchange {
            url,
            content_type,
            location,
            cache_control,
            www_authenticate,
            access_control_allow_origin,
            body,
            error,
            ..
        } = self;
        let texts = [url, body]
            .into_iter()
            .chain(www_authenticate.iter_mut())
            .chain(content_type.iter_mut())
            .chain(location.iter_mut())
            .chain(cache_control.iter_mut())
            .chain(access_control_allow_origin.iter_mut())
            .chain(error.iter_mut());
        for text in texts {
            secrets.scrub_in_place(text);
        }
    }

    /// The Bearer challenges of its `WWW-Authenticate` values, in order; a value that does not
    /// parse contributes none.
    pub fn bearer_challenges(
        &self,
    ) -> impl Iterator<Item = crate::www_authenticate::Challenge> + '_ {
        self.www_authenticate
            .iter()
            .filter_map(|v| crate::www_authenticate::parse(v).ok())
            .flatten()
            .filter(|c| c.is_scheme("Bearer"))
    }
}

/// A response with its full body, for the caller to interpret.
#[derive(Clone)]
pub struct Answer {
    /// The evidence.
    pub exchange: Exchange,
    /// The body.
    pub body: Vec<u8>,
    /// The `Mcp-Session-Id` response header, if any.
    pub session_id: Option<String>,
    /// The `Location` header resolved against the request URL, if any.
    pub location: Option<Url>,
    /// The URL requested.
    pub url: Url,
}

impl Answer {
    /// Notes whether the response repeats `secret` (body, challenges, redirect) and takes it
    /// out of the evidence.
    fn scrub(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let e = &mut self.exchange;
        let in_body = String::from_utf8_lossy(&self.body).contains(secret);
        let in_headers = e
            .www_authenticate
            .iter()
            .chain(&e.location)
            .any(|v| v.contains(secret));
        e.token_echoed = in_body || in_headers;
        for text in e
            .www_authenticate
            .iter_mut()
            .chain(e.location.as_mut())
            .chain(std::iter::once(&mut e.body))
        {
            *text = text.replace(secret, "[the token]");
        }
    }
}

/// The JSON-RPC response in a body sent as JSON or as an SSE stream (clients must take both).
pub fn rpc_response(answer: &Answer) -> Option<serde_json::Value> {
    let is_response = |m: &serde_json::Value| {
        m.get("id").is_some() && (m.get("result").is_some() || m.get("error").is_some())
    };
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body) {
        return is_response(&v).then_some(v);
    }
    String::from_utf8_lossy(&answer.body)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(is_response)
}

/// Talks to the server under test.
pub struct Probe {
    http: reqwest::Client,
    origin: String,
    secrets: Secrets,
}

impl Probe {
    /// A probe for a target; redirects are not followed (the wire is what is judged).
    pub fn new(target: &Url) -> Self {
        Self::build(target, false)
    }

    /// A probe that keeps cookies, as a browser does through a sign-in.
    pub fn with_cookies(target: &Url) -> Self {
        Self::build(target, true)
    }

    /// A probe that keeps cookies, as a browser does, for the same run: the credentials it
    /// sees join this one's.
    pub fn browser(&self) -> Self {
        Self {
            secrets: self.secrets.clone(),
            ..Self::build_for(&self.origin, true)
        }
    }

    /// The credentials this run has seen or been given.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn build(target: &Url, cookies: bool) -> Self {
        Self::build_for(&target.origin().ascii_serialization(), cookies)
    }

    fn build_for(origin: &str, cookies: bool) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(cookies)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("mcp-auth-conformance")
            .build()
            .expect("an HTTP client with static settings");
        Self {
            http,
            origin: origin.to_owned(),
            secrets: Secrets::default(),
        }
    }

    /// The URL as evidence shows it: a path on the target's origin; query values decoded, with
    /// secrets redacted and per-run values (ids, `state`, challenges) replaced.
    pub fn shown(&self, url: &Url) -> String {
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        let s = bare.as_str();
        let mut out = match s.strip_prefix(&self.origin) {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => s.to_owned(),
        };
        if url.query().is_some() {
            let pairs: Vec<String> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret_field(&k) {
                        "[redacted]".into()
                    } else if VOLATILE_QUERY.contains(&k.as_ref()) {
                        "[varies]".into()
                    } else {
                        v
                    };
                    format!("{k}={v}")
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    /// `GET url` from a web page of `origin`, as a browser-based client fetches metadata.
    pub async fn get_from(&self, url: &Url, origin: &str) -> Answer {
        self.send("GET", url, self.get_json(url).header("Origin", origin))
            .await
    }

    /// `GET url`.
    pub async fn get(&self, url: &Url) -> Answer {
        self.send("GET", url, self.get_json(url)).await
    }

    fn get_json(&self, url: &Url) -> reqwest::RequestBuilder {
        self.http
            .get(url.clone())
            .header("Accept", "application/json")
    }

    /// `POST url` as an MCP client with extra headers (a session id, say) and maybe a token.
    pub async fn post_mcp_with(
        &self,
        url: &Url,
        body: &serde_json::Value,
        token: Option<&str>,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut request = self
            .http
            .post(url.clone())
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .body(body.to_string());
        // The caller's version wins; a request that names none is a 2025-11-25 one.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("MCP-Protocol-Version"))
        {
            request = request.header("MCP-Protocol-Version", "2025-11-25");
        }
        if let Some(token) = token {
            self.secrets.add(token);
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let mut answer = self.send("POST", url, request).await;
        let in_query = url
            .query_pairs()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned());
        if let Some(t) = &in_query {
            self.secrets.add(t);
        }
        if let Some(secret) = token.map(str::to_owned).or(in_query) {
            answer.scrub(&secret);
        }
        answer
    }

    /// `GET` (the event stream) or `DELETE` (the end of a session) on the MCP endpoint, as a
    /// client sends them: no body, extra headers (the protocol version, a session id), maybe a
    /// token. An event stream a server opens anyway is read for at most the probe's timeout.
    pub async fn mcp_without_body(
        &self,
        method: &'static str,
        url: &Url,
        token: Option<&str>,
        headers: &[(&str, String)],
    ) -> Answer {
        let verb = match method {
            "DELETE" => reqwest::Method::DELETE,
            _ => reqwest::Method::GET,
        };
        let mut request = self
            .http
            .request(verb, url.clone())
            .header("Accept", "text/event-stream");
        if let Some(token) = token {
            self.secrets.add(token);
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let mut answer = self.send(method, url, request).await;
        if let Some(token) = token {
            answer.scrub(token);
        }
        answer
    }

    /// `POST url` with a JSON body (e.g. a client registration).
    pub async fn post_json(&self, url: &Url, body: &serde_json::Value) -> Answer {
        let request = self
            .http
            .post(url.clone())
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body.to_string());
        self.send("POST", url, request).await
    }

    /// `GET url` as a browser navigates.
    pub async fn navigate(&self, url: &Url) -> Answer {
        let request = self
            .http
            .get(url.clone())
            .header("Accept", "text/html, application/json;q=0.9, */*;q=0.5");
        self.send("GET", url, request).await
    }

    /// `POST url` with a form body, maybe with HTTP Basic client authentication (RFC 6749
    /// §2.3.1: id and secret form-encoded first).
    pub async fn post_form(
        &self,
        url: &Url,
        fields: &[(String, String)],
        basic: Option<(&str, &str)>,
    ) -> Answer {
        let mut request = self
            .http
            .post(url.clone())
            .header("Accept", "application/json, text/html;q=0.9")
            .form(fields);
        for (k, v) in fields {
            if CREDENTIAL_FIELDS.contains(&k.as_str()) {
                self.secrets.add(v);
            }
        }
        if let Some((id, secret)) = basic {
            self.secrets.add(secret);
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(id), Some(enc(secret)));
        }
        self.send("POST", url, request).await
    }

    async fn send(
        &self,
        method: &'static str,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Answer {
        self.register_credentials_in(url);
        let mut exchange = Exchange {
            method,
            url: self.shown(url),
            status: None,
            content_type: None,
            location: None,
            cache_control: None,
            www_authenticate: Vec::new(),
            access_control_allow_origin: None,
            token_echoed: false,
            body: String::new(),
            error: None,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                exchange.error = Some(describe(&e));
                return Answer {
                    exchange,
                    body: Vec::new(),
                    session_id: None,
                    location: None,
                    url: url.clone(),
                };
            }
        };
        exchange.status = Some(response.status().as_u16());
        record_headers(&mut exchange, response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok());
        if let Some(l) = &location {
            self.register_credentials_in(l);
        }
        exchange.location = location.as_ref().map(|l| self.shown(l));
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let session_id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        if self.register_credentials_of(&body) {
            exchange.cache_control = cache_control;
        }
        exchange.body = shown_body(exchange.content_type.as_deref(), &body);
        Answer {
            exchange,
            body,
            session_id,
            location,
            url: url.clone(),
        }
    }
}

impl Probe {
    /// Registers the credentials a URL's query carries (a code in a redirect, say).
    fn register_credentials_in(&self, url: &Url) {
        for (k, v) in url.query_pairs() {
            if CREDENTIAL_FIELDS.contains(&k.as_ref()) {
                self.secrets.add(&v);
            }
        }
    }

    /// Registers the credentials a JSON body carries; whether it carries any.
    fn register_credentials_of(&self, body: &[u8]) -> bool {
        let Ok(serde_json::Value::Object(json)) = serde_json::from_slice(body) else {
            return false;
        };
        let mut any = false;
        for (k, v) in &json {
            if let (true, Some(v)) = (CREDENTIAL_FIELDS.contains(&k.as_str()), v.as_str()) {
                self.secrets.add(v);
                any = true;
            }
        }
        any
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    if !e.is_connect() {
        return "request failed".into();
    }
    // The cause, as far as it tells the person what to do.
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    "connection refused: nothing is listening there (is the server running, on that port?)".into()
                }
                _ => format!("connection failed ({})", io.kind()),
            };
        }
        let text = cause.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "the host name does not resolve (check its spelling)".into();
        }
        source = cause.source();
    }
    "connection failed".into()
}

/// A body as evidence: JSON with secret fields replaced, cut to a few hundred characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut json) => {
            redact(&mut json);
            json.to_string()
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    if text.chars().count() > EXCERPT {
        format!("{}…", text.chars().take(EXCERPT).collect::<String>())
    } else {
        text
    }
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if secret_field(k) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else if VOLATILE_FIELDS.contains(&k.as_str()) {
                    *v = serde_json::Value::String("[varies]".into());
                } else {
                    redact(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The response headers the checks read, recorded on `exchange`.
fn record_headers(exchange: &mut Exchange, headers: &reqwest::header::HeaderMap) {
    let text =
        |v: &reqwest::header::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    exchange.content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    exchange.www_authenticate = headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .map(text)
        .collect();
    exchange.access_control_allow_origin = headers
        .get(reqwest::header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(text);
}

/// A body as evidence shows it: an excerpt, or for a page its title (pages carry per-request
/// hidden fields: the title is the stable part).
fn shown_body(content_type: Option<&str>, body: &[u8]) -> String {
    if content_type.is_some_and(|c| c.starts_with("text/html")) {
        format!("[HTML page: {:?}]", title(body))
    } else {
        excerpt(body)
    }
}

/// An HTML page's title, for evidence.
pub fn title(body: &[u8]) -> String {
    let doc = scraper::Html::parse_document(&String::from_utf8_lossy(body));
    let title = scraper::Selector::parse("title").expect("a static selector");
    doc.select(&title)
        .next()
        .map(|t| t.text().collect::<String>().trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_long_bodies_cut() {
        let body = br#"{"access_token":"eyJ.x.y","nested":{"client_secret":"s"},"keep":"k"}"#;
        let e = excerpt(body);
        assert!(!e.contains("eyJ") && !e.contains("\"s\""), "{e}");
        assert!(e.contains("\"keep\":\"k\""));
        let registered = excerpt(br#"{"client_id":"dcr-x1","client_id_issued_at":1795379262}"#);
        assert_eq!(
            registered,
            r#"{"client_id":"[varies]","client_id_issued_at":"[varies]"}"#
        );
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT + 1);
    }

    #[test]
    fn same_origin_urls_are_shown_as_paths() {
        let probe = Probe::new(&Url::parse("http://127.0.0.1:4567/mcp").unwrap());
        assert_eq!(
            probe.shown(&Url::parse("http://127.0.0.1:4567/.well-known/x").unwrap()),
            "/.well-known/x"
        );
        assert_eq!(
            probe.shown(&Url::parse("https://as.example.com/x").unwrap()),
            "https://as.example.com/x"
        );
    }
}
