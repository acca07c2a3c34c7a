//! A loopback host for Client ID Metadata Documents: the document a client publishes at the URL
//! it uses as its `client_id`, and, for the tester, one whose `client_id` differs from its URL.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{Json, Router, extract::State, routing::get};
use url::Url;

/// The path of the honest document.
pub const DOCUMENT_PATH: &str = "/client-metadata.json";
/// The path of the document that names another URL as its `client_id`.
pub const MISMATCHED_PATH: &str = "/mismatched-client-metadata.json";

/// A client metadata document for `client_id` (draft-ietf-oauth-client-id-metadata-document).
pub fn document(client_id: &Url, client_name: &str, redirect_uris: &[Url]) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id.as_str(),
        "client_name": client_name,
        "redirect_uris": redirect_uris.iter().map(Url::as_str).collect::<Vec<_>>(),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    })
}

/// A running host.
pub struct CimdHost {
    /// The honest document's URL: the `client_id` to use.
    pub client_id: Url,
    /// A document served at this URL that names `client_id` instead (must be refused).
    pub mismatched: Url,
    /// The redirect URI the honest document lists.
    pub redirect_uri: Url,
    /// How many times the honest document was fetched.
    fetched: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Docs {
    honest: serde_json::Value,
    mismatched: serde_json::Value,
    fetched: Arc<AtomicUsize>,
}

impl CimdHost {
    /// Serves both documents on 127.0.0.1 (any free port) until dropped; they list
    /// `redirect_uri`, or the host's own `/callback`.
    pub async fn start(client_name: &str, redirect_uri: Option<Url>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let parse = |p: &str| Url::parse(&format!("{base}{p}")).expect("a loopback URL");
        let client_id = parse(DOCUMENT_PATH);
        let mismatched = parse(MISMATCHED_PATH);
        let redirect_uri = redirect_uri.unwrap_or_else(|| parse("/callback"));
        let honest = document(&client_id, client_name, std::slice::from_ref(&redirect_uri));
        let fetched = Arc::new(AtomicUsize::new(0));
        let docs = Docs {
            mismatched: honest.clone(),
            honest,
            fetched: fetched.clone(),
        };
        let app = Router::new()
            .route(
                DOCUMENT_PATH,
                get(|State(d): State<Docs>| async move {
                    d.fetched.fetch_add(1, Ordering::SeqCst);
                    Json(d.honest)
                }),
            )
            .route(
                MISMATCHED_PATH,
                get(|State(d): State<Docs>| async move { Json(d.mismatched) }),
            )
            .with_state(docs);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            client_id,
            mismatched,
            redirect_uri,
            fetched,
            task,
        })
    }

    /// Whether the honest document has been fetched (by the AS: nothing else knows its URL).
    pub fn honest_fetched(&self) -> bool {
        self.fetched.load(Ordering::SeqCst) > 0
    }
}

impl Drop for CimdHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}
