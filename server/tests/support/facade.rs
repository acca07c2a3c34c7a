//! The façade as a browser and a client see it: discovery, registration, consent, the
//! development AS's sign-in, the callback; each step on its own for tests that stop between.

use std::collections::HashMap;

use mcp_auth_server::local::LocalServer;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use super::{hidden, http, pkce, query};

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Registers a public client with one redirect URI by DCR; returns its client_id.
pub async fn register_public_client(metadata: &Value, redirect: &str) -> String {
    register(
        metadata,
        json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none"}),
    )
    .await
}

/// Registers a public client as [`register_public_client`] does, named `name`.
pub async fn register_named_public_client(metadata: &Value, redirect: &str, name: &str) -> String {
    register(
        metadata,
        json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "none", "client_name": name}),
    )
    .await
}

/// Registers a public client with several redirect URIs.
pub async fn register_public_client_at(metadata: &Value, redirects: &[&str]) -> String {
    register(
        metadata,
        json!({"redirect_uris": redirects, "token_endpoint_auth_method": "none"}),
    )
    .await
}

async fn register(metadata: &Value, body: Value) -> String {
    let registered: Value = http()
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    registered["client_id"].as_str().unwrap().to_owned()
}

/// Discovery as a client does it: 401 -> PRM -> AS metadata.
pub async fn discover(server: &LocalServer) -> Value {
    let http = http();
    let unauthorized = http
        .post(server.resource.as_str())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
    let challenge = unauthorized.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    let prm_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let prm: Value = http
        .get(prm_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    let metadata: Value = http
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer);
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let oidc: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, metadata);
    metadata
}

/// A browser's cookies for the server: every `Set-Cookie` kept by name, `Max-Age=0` removing.
#[derive(Default)]
pub struct Browser {
    http: Option<reqwest::Client>,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: Some(http()),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let mut r = self.http.as_ref().unwrap().get(url);
        if let Some(c) = self.cookie_header() {
            r = r.header(header::COOKIE, c);
        }
        let response = r.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_with(url, form, &[]).await
    }

    /// [`Browser::post_form`] with extra headers (`Origin`, `Sec-Fetch-Site`).
    pub async fn post_form_with(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut r = self.http.as_ref().unwrap().post(url).form(form);
        for (name, value) in headers {
            r = r.header(*name, *value);
        }
        if let Some(c) = self.cookie_header() {
            r = r.header(header::COOKIE, c);
        }
        let response = r.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }
}

/// The façade authorization URL for a public client (state `client-state`, this resource).
pub fn authorization_url(
    server: &LocalServer,
    metadata: &Value,
    client_id: &str,
    redirect: &str,
    scope: &str,
    challenge: &str,
) -> String {
    let mut url = url::Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "client-state")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", server.resource.as_str());
    url.into()
}

impl Browser {
    /// Opens a façade authorization URL and approves the consent page if one is shown;
    /// returns where the browser is sent upstream.
    pub async fn approve(&mut self, server: &LocalServer, url: &str) -> String {
        let first = self.get(url).await;
        let upstream = if first.status() == StatusCode::OK {
            let html = first.text().await.unwrap();
            assert!(html.contains("Allow <em>"), "a consent page: {html}");
            let approved = self
                .post_form(
                    &format!("{}/consent", server.issuer),
                    &[
                        ("consent_id", &hidden(&html, "consent_id")),
                        ("csrf", &hidden(&html, "csrf")),
                        ("decision", "approve"),
                    ],
                )
                .await;
            assert!(approved.status().is_redirection(), "{}", approved.status());
            location(&approved)
        } else {
            assert!(first.status().is_redirection(), "{}", first.status());
            location(&first)
        };
        assert!(
            upstream.starts_with(&server.dev_issuer),
            "to the upstream: {upstream}"
        );
        upstream
    }

    /// Signs in at the development AS (its form, unless it auto-approves); returns the
    /// façade callback URL the upstream sends the browser to.
    pub async fn sign_in_upstream(&mut self, server: &LocalServer, upstream: &str) -> String {
        let page = self.get(upstream).await;
        let callback = if page.status().is_redirection() {
            location(&page)
        } else {
            let login_page = page.text().await.unwrap();
            let signed_in = self
                .post_form(
                    &format!("{}/login", server.dev_issuer),
                    &[
                        ("login_id", &hidden(&login_page, "login_id")),
                        ("username", &server.user.username),
                        ("password", &server.user.password),
                    ],
                )
                .await;
            location(&signed_in)
        };
        assert!(
            callback.starts_with(&format!("{}/oauth/callback", server.issuer)),
            "{callback}"
        );
        callback
    }
}

/// Authorizes through the façade: consent (approved unless remembered), then the development
/// AS's login form, then back through the callback. Returns the client's redirect parameters.
pub async fn authorize(
    server: &LocalServer,
    browser: &mut Browser,
    metadata: &Value,
    client_id: &str,
    redirect: &str,
    scope: &str,
    challenge: &str,
) -> HashMap<String, String> {
    let url = authorization_url(server, metadata, client_id, redirect, scope, challenge);
    let upstream = browser.approve(server, &url).await;
    let upstream_params = query(&upstream);
    assert_eq!(upstream_params["code_challenge_method"], "S256");
    assert_ne!(
        upstream_params["client_id"], client_id,
        "the façade's own client goes upstream"
    );
    let callback = browser.sign_in_upstream(server, &upstream).await;
    let back = browser.get(&callback).await;
    let to_client = location(&back);
    assert!(
        to_client.starts_with(&redirect[..redirect.find("/callback").unwrap()]),
        "{to_client}"
    );
    query(&to_client)
}

/// The redirect URI of the public clients [`signed_in`] registers.
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:7777/callback";

/// Exchanges a code at the façade's token endpoint for a public client.
pub async fn redeem(
    metadata: &Value,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    http()
        .post(metadata["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// A client signed in for `scope`: its id, PKCE verifier and token response.
pub async fn signed_in(server: &LocalServer, metadata: &Value, scope: &str) -> (String, Value) {
    let client_id = register_public_client(metadata, PUBLIC_REDIRECT).await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let answer = authorize(
        server,
        &mut browser,
        metadata,
        &client_id,
        PUBLIC_REDIRECT,
        scope,
        &challenge,
    )
    .await;
    let issued = redeem(metadata, &client_id, &answer["code"], &verifier).await;
    assert_eq!(issued.status(), 200);
    (client_id, issued.json().await.unwrap())
}
