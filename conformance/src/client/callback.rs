//! The loopback redirect URI of an interactive sign-in (RFC 8252 §7.3): the person signs in in
//! their own browser, and the authorization server's answer comes back here.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::State, http::Uri, response::Html, routing::get};
use tokio::sync::{Mutex, mpsc};
use url::Url;

/// A listener on 127.0.0.1 that collects the authorization responses sent to `/callback`.
pub struct CallbackListener {
    redirect_uri: Url,
    answers: Mutex<mpsc::UnboundedReceiver<Url>>,
    task: tokio::task::JoinHandle<()>,
}

impl CallbackListener {
    /// Listens on a free loopback port until dropped.
    pub async fn start() -> std::io::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let redirect_uri = Url::parse(&format!("{base}/callback")).expect("a loopback URL");
        let (sender, answers) = mpsc::unbounded_channel();
        let app = Router::new()
            .route("/callback", get(received))
            .with_state((base, sender));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Arc::new(Self {
            redirect_uri,
            answers: Mutex::new(answers),
            task,
        }))
    }

    /// The redirect URI to register and send.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The next answer carrying `state`, or `None` after `patience`; answers to earlier
    /// requests (a tab the person finished late) are passed over.
    pub async fn wait(&self, state: &str, patience: Duration) -> Option<Url> {
        let mut answers = self.answers.lock().await;
        tokio::time::timeout(patience, async {
            while let Some(url) = answers.recv().await {
                if url.query_pairs().any(|(k, v)| k == "state" && v == state) {
                    return Some(url);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }
}

impl Drop for CallbackListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn received(
    State((base, sender)): State<(String, mpsc::UnboundedSender<Url>)>,
    uri: Uri,
) -> Html<&'static str> {
    if let Ok(url) = Url::parse(&format!("{base}{uri}")) {
        let _ = sender.send(url);
    }
    Html(
        "<!doctype html><html><head><title>Answer received</title></head><body>\
         <p>The conformance tester has the authorization server's answer. You can close this tab.</p>\
         </body></html>",
    )
}
