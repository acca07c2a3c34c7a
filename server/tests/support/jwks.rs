//! A JWKS endpoint on loopback that counts its fetches and can be taken down.

#![allow(
    dead_code,
    reason = "each test file that includes this module uses a part of it"
)]

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};

#[derive(Default)]
pub struct JwksState {
    pub keys: RwLock<Vec<serde_json::Value>>,
    pub fetches: AtomicUsize,
    pub down: AtomicBool,
}

pub struct JwksServer {
    pub url: url::Url,
    pub state: Arc<JwksState>,
}

impl JwksServer {
    pub async fn start(keys: Vec<serde_json::Value>) -> Self {
        let state = Arc::new(JwksState {
            keys: RwLock::new(keys),
            ..Default::default()
        });
        let app = Router::new()
            .route("/jwks.json", get(serve))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/jwks.json").parse().unwrap(),
            state,
        }
    }

    /// A fresh signing key, a server publishing it, and a cache over that server.
    pub async fn serving_new_key() -> (
        mcp_auth_server::signing::Rs256Key,
        Self,
        mcp_auth_server::jwks::JwksCache,
    ) {
        let key = mcp_auth_server::signing::Rs256Key::generate("k1").unwrap();
        let server = Self::start(vec![key.public_jwk()]).await;
        let cache = mcp_auth_server::jwks::JwksCache::new(
            server.url.clone(),
            reqwest::Client::new(),
            mcp_auth_server::jwks::RefreshPolicy::default(),
        );
        (key, server, cache)
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn set_keys(&self, keys: Vec<serde_json::Value>) {
        *self.state.keys.write().unwrap() = keys;
    }
}

async fn serve(State(state): State<Arc<JwksState>>) -> Result<Json<serde_json::Value>, StatusCode> {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(
        serde_json::json!({ "keys": *state.keys.read().unwrap() }),
    ))
}
