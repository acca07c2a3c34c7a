//! Client ID Metadata Document fetching against hostile servers (on loopback, which development
//! mode admits; address-class refusals are unit-tested in facade::cimd without any connection).

use std::time::{Duration, Instant};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use mcp_auth_server::facade::cimd::{CimdError, CimdResolver};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn json(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::test]
async fn hostile_documents_are_refused_with_clear_reasons() {
    let base = serve(
        Router::new()
            .route(
                "/redirect.json",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "http://169.254.169.254/latest")],
                    )
                }),
            )
            .route(
                "/huge.json",
                get(|| async { json(format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024))) }),
            )
            .route(
                "/slow.json",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(8)).await;
                    json("{}".into())
                }),
            )
            .route(
                "/html.json",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html></html>") }),
            )
            .route("/broken.json", get(|| async { json("{not json".into()) }))
            .route("/missing.json", get(|| async { StatusCode::NOT_FOUND })),
    )
    .await;
    let mismatch_base = base.clone();
    let mismatched = serve(Router::new().route(
        "/client.json",
        get(move || {
            let other = format!("{mismatch_base}/someone-else.json");
            async move { json(serde_json::json!({"client_id": other, "client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"]}).to_string()) }
        }),
    ))
    .await;
    let resolver = CimdResolver::new(true);
    let check = |r: Result<_, CimdError>, what: &str| -> CimdError {
        match r {
            Ok(c) => panic!("{what}: accepted {c:?}"),
            Err(e) => e,
        }
    };
    let e = check(
        resolver.resolve(&format!("{base}/redirect.json")).await,
        "redirect",
    );
    assert_eq!(e, CimdError::Status(302, " (redirects are not followed)"));
    let e = check(
        resolver.resolve(&format!("{base}/huge.json")).await,
        "oversize",
    );
    assert_eq!(e, CimdError::TooLarge);
    let started = Instant::now();
    let e = check(resolver.resolve(&format!("{base}/slow.json")).await, "slow");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "gave up at the 5 s timeout"
    );
    let e = check(resolver.resolve(&format!("{base}/html.json")).await, "html");
    assert!(matches!(e, CimdError::NotJson(_)), "{e}");
    let e = check(
        resolver.resolve(&format!("{base}/broken.json")).await,
        "broken",
    );
    assert!(matches!(e, CimdError::NotJson(_)), "{e}");
    let e = check(
        resolver.resolve(&format!("{base}/missing.json")).await,
        "404",
    );
    assert_eq!(e, CimdError::Status(404, ""));
    let e = check(
        resolver.resolve(&format!("{mismatched}/client.json")).await,
        "mismatched client_id",
    );
    assert!(
        e.to_string().contains("is not the URL it was fetched from"),
        "{e}"
    );
}

#[tokio::test]
async fn documents_must_be_complete_and_public_clients() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let doc = move |path: &str, extra: serde_json::Value| {
        let mut d = serde_json::json!({"client_id": format!("{b}{path}"), "client_name": "n", "redirect_uris": ["http://127.0.0.1/cb"]});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                d.as_object_mut().unwrap().remove(k);
            } else {
                d[k] = v.clone();
            }
        }
        d.to_string()
    };
    let (d1, d2, d3, d4, d5) = (
        doc(
            "/no-redirects.json",
            serde_json::json!({"redirect_uris": []}),
        ),
        doc("/no-name.json", serde_json::json!({"client_name": null})),
        doc("/secret.json", serde_json::json!({"client_secret": "s"})),
        doc(
            "/jwt.json",
            serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
        ),
        doc(
            "/bad-redirect.json",
            serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
        ),
    );
    let router = Router::new()
        .route("/no-redirects.json", get(move || async move { json(d1) }))
        .route("/no-name.json", get(move || async move { json(d2) }))
        .route("/secret.json", get(move || async move { json(d3) }))
        .route("/jwt.json", get(move || async move { json(d4) }))
        .route("/bad-redirect.json", get(move || async move { json(d5) }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let resolver = CimdResolver::new(true);
    for (path, expect) in [
        ("/no-redirects.json", "no redirect_uris"),
        ("/no-name.json", "no client_name"),
        ("/secret.json", "client_secret"),
        ("/jwt.json", "private_key_jwt"),
        ("/bad-redirect.json", "not loopback"),
    ] {
        let e = resolver
            .resolve(&format!("{base}{path}"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, CimdError::Invalid(_)) && e.to_string().contains(expect),
            "{path}: {e}"
        );
    }
}

#[tokio::test]
async fn production_mode_refuses_loopback_documents_outright() {
    let resolver = CimdResolver::new(false);
    let e = resolver
        .resolve("http://127.0.0.1:9/client.json")
        .await
        .unwrap_err();
    assert!(matches!(e, CimdError::BadUrl(_)), "{e}");
    let e = resolver
        .resolve("https://127.0.0.1:9/client.json")
        .await
        .unwrap_err();
    assert!(matches!(e, CimdError::ForbiddenAddress { .. }), "{e}");
}
