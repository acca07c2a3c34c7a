//! The HTTP application: the MCP endpoint behind the guard, Protected Resource Metadata, and in
//! local mode the development authorization server.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tokio_util::sync::CancellationToken;
use tower_http::{
    cors::CorsLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

use crate::{
    guard::{Guard, guard},
    prm::{self, ProtectedResourceMetadata},
    resource::ResourceUri,
    tools::{McpTools, Notes},
};

/// Largest request body anywhere on the server.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest total of request header names and values.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What the application serves.
pub struct AppParts {
    /// The MCP resource URI (its path is where `/mcp` is mounted).
    pub resource: ResourceUri,
    /// The PRM document.
    pub metadata: ProtectedResourceMetadata,
    /// The guard in front of the MCP endpoint.
    pub guard: Arc<Guard>,
    /// Browser origins allowed on the MCP endpoint (DNS-rebinding defence).
    pub allowed_origins: Vec<String>,
    /// `Host` values accepted on the MCP endpoint.
    pub allowed_hosts: Vec<String>,
    /// Extra routes (the development AS, the façade).
    pub extra: Router,
    /// Stops the MCP sessions on shutdown.
    pub shutdown: CancellationToken,
}

/// Builds the router.
pub fn router(parts: AppParts) -> Router {
    let notes: Notes = Default::default();
    let name = parts.metadata.resource_name.clone();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(parts.allowed_hosts)
        .with_allowed_origins(parts.allowed_origins)
        .enforce_origin_validation()
        .with_json_response(true)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(parts.shutdown.child_token());
    let mcp = StreamableHttpService::new(
        // Built once: the stateless transport asks for a service per request (and per header
        // check), and building the tool router with its JSON schemas costs more than a request.
        {
            let tools = McpTools::new(notes, name);
            move || Ok(tools.clone())
        },
        LocalSessionManager::default().into(),
        config,
    );
    let mcp_path = url::Url::parse(parts.resource.as_str())
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/mcp".into());
    let mcp_router = Router::new()
        .route_service(&mcp_path, mcp)
        .route_layer(middleware::from_fn_with_state(parts.guard.clone(), guard));
    let metadata = Arc::new(parts.metadata);
    // Metadata is public and read by browser-based clients too.
    let metadata_router = Router::new()
        .route(
            &prm::metadata_path(&parts.resource),
            get(protected_resource_metadata),
        )
        .route(prm::WELL_KNOWN, get(protected_resource_metadata))
        .with_state(metadata)
        .layer(CorsLayer::permissive());
    Router::new()
        .merge(mcp_router)
        .merge(metadata_router)
        .route("/healthz", get(|| async { "ok" }))
        .merge(parts.extra)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(limit_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
}

/// 431 for requests whose headers together exceed [`MAX_HEADER_BYTES`].
async fn limit_headers(request: axum::extract::Request, next: middleware::Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large",
        )
            .into_response();
    }
    next.run(request).await
}

async fn protected_resource_metadata(
    State(metadata): State<Arc<ProtectedResourceMetadata>>,
) -> Response {
    let mut response = Json(metadata.as_ref().clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
