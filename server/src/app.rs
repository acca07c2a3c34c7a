//! The HTTP application: the MCP endpoint behind the guard, Protected Resource Metadata, and in
//! local mode the development authorization server.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{any, get},
};
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use tokio_util::sync::CancellationToken;
use tower_http::{
    cors::CorsLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

use crate::{
    guard::{Guard, guard},
    mcp::{DirectPath, McpEndpoint, sessions::SessionLimits},
    prm::{self, ProtectedResourceMetadata},
    request_body::{self, MAX_BODY_BYTES},
    resource::ResourceUri,
    tools::{McpTools, Notes},
};

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

/// Builds the router; the MCP endpoint is returned beside it for its counters.
pub fn router(parts: AppParts) -> (Router, Arc<McpEndpoint>) {
    let notes: Notes = Default::default();
    let name = parts.metadata.resource_name.clone();
    let config = mcp_config(parts.allowed_hosts, parts.allowed_origins, &parts.shutdown);
    let mcp = Arc::new(McpEndpoint::new(
        McpTools::new(notes, name),
        config,
        DirectPath::On,
        SessionLimits::default(),
    ));
    let mcp_path = parts.resource.path().to_owned();
    let mcp_router = Router::new()
        .route(&mcp_path, any(mcp_endpoint))
        .with_state(mcp.clone())
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
    let router = Router::new()
        .merge(mcp_router)
        .merge(metadata_router)
        .route("/healthz", get(|| async { "ok" }))
        // The OAuth and sign-in endpoints take small bodies from anyone: read whole, in time.
        .merge(
            parts
                .extra
                .layer(middleware::from_fn(request_body::whole_body)),
        )
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(limit_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span));
    (router, mcp)
}

/// A request's span: method and path, never the query, which carries authorization codes and
/// states (`/oauth/callback?code=…&state=…`, `/authorize?…`) that must not reach the logs.
fn request_span(request: &axum::extract::Request) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// How rmcp serves the MCP endpoint: JSON answers, the DNS-rebinding checks, the body limit.
pub fn mcp_config(
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    shutdown: &CancellationToken,
) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_allowed_origins(allowed_origins)
        .enforce_origin_validation()
        .with_json_response(true)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(shutdown.child_token())
}

async fn mcp_endpoint(
    State(mcp): State<Arc<McpEndpoint>>,
    request: axum::extract::Request,
) -> Response {
    mcp.serve(request).await
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
