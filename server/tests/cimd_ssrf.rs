//! Client ID Metadata Document fetching against hostile servers (on loopback, which development
//! mode admits; address-class refusals are unit-tested in facade::cimd without any connection).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

use std::time::{Duration, Instant};

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use mcp_auth_server::facade::cimd::{CimdError, CimdResolver, LoopbackDocuments};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn json(body: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// A host of documents no resolver may take: a redirect to the metadata service, one too large,
/// one too slow, HTML, broken JSON, a 404.
fn hostile_documents() -> Router {
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
        .route("/missing.json", get(|| async { StatusCode::NOT_FOUND }))
}

#[tokio::test]
async fn hostile_documents_are_refused_with_clear_reasons() {
    let base = serve(hostile_documents()).await;
    let mismatch_base = base.clone();
    let mismatched = serve(Router::new().route(
        "/client.json",
        get(move || {
            let other = format!("{mismatch_base}/someone-else.json");
            async move { json(serde_json::json!({"client_id": other, "client_name": "x", "redirect_uris": ["http://127.0.0.1/cb"]}).to_string()) }
        }),
    ))
    .await;
    let resolver = CimdResolver::new(Some(LoopbackDocuments::default()));
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
    let resolver = CimdResolver::new(Some(LoopbackDocuments::default()));
    for (path, expect) in [
        ("/no-redirects.json", "give 1 to 10 redirect_uris"),
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
    let resolver = CimdResolver::new(None);
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

#[tokio::test]
async fn addresses_hiding_ipv4_behind_translation_or_tunnels_are_refused_before_any_connection() {
    let resolver = CimdResolver::new(None);
    for url in [
        // SIIT (::ffff:0:0/96): 127.0.0.1 and the cloud metadata address after translation.
        "https://[::ffff:0:7f00:1]/client.json",
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data",
        // Teredo (2001::/32) tunnels to an IPv4 address the server cannot vet.
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/client.json",
        "https://[2001::a9fe:a9fe]/client.json",
    ] {
        let started = Instant::now();
        let e = resolver.resolve(url).await.unwrap_err();
        assert!(
            matches!(e, CimdError::ForbiddenAddress { .. }),
            "{url}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{url}: refused without trying to connect"
        );
    }
}

#[tokio::test]
async fn the_clients_resolver_vets_every_address_of_a_name() {
    use mcp_auth_server::facade::cimd::{AddressPolicy, VettingResolver};
    use reqwest::dns::{Name, Resolve};
    // "localhost" resolves to loopback addresses only: refused for public fetches, whatever
    // the URL looked like, because the refusal is in the client's own lookup.
    let refused = VettingResolver(AddressPolicy::Public)
        .resolve("localhost".parse::<Name>().unwrap())
        .await
        .err()
        .expect("refused");
    let refused = refused.downcast_ref::<CimdError>().expect("a CimdError");
    assert!(
        matches!(refused, CimdError::ForbiddenAddress { host, .. } if host == "localhost"),
        "{refused}"
    );
    let loopback: Vec<_> = VettingResolver(AddressPolicy::Loopback)
        .resolve("localhost".parse::<Name>().unwrap())
        .await
        .expect("loopback addresses are what development documents may use")
        .collect();
    assert!(!loopback.is_empty() && loopback.iter().all(|a| a.ip().is_loopback()));
    // One address out of policy among good ones condemns the whole answer.
    let mixed = [
        "93.184.216.34:443".parse().unwrap(),
        "169.254.169.254:443".parse().unwrap(),
    ];
    assert!(matches!(
        AddressPolicy::Public.vet("mixed.example", &mixed),
        Err(CimdError::ForbiddenAddress { addr, .. }) if addr.to_string() == "169.254.169.254"
    ));
    assert!(matches!(
        AddressPolicy::Public.vet("empty.example", &[]),
        Err(CimdError::Unresolvable(_))
    ));
}

#[tokio::test]
async fn a_flood_of_new_metadata_urls_does_not_evict_the_documents_in_use() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // By name: the fetch goes through the client's resolver, not an IP literal.
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let fetches = Arc::new(AtomicUsize::new(0));
    let (b, counted) = (base.clone(), fetches.clone());
    let router = Router::new().route(
        "/{name}",
        get(
            move |axum::extract::Path(name): axum::extract::Path<String>| {
                let client_id = format!("{b}/{name}");
                if name == "in-use.json" {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                async move {
                    json(
                        serde_json::json!({"client_id": client_id, "client_name": "n",
                    "redirect_uris": ["http://127.0.0.1/cb"]})
                        .to_string(),
                    )
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let resolver = CimdResolver::with_capacity(Some(LoopbackDocuments::default()), 20);
    let in_use = format!("{base}/in-use.json");
    for _ in 0..5 {
        resolver.resolve(&in_use).await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "cached after one fetch");
    // Anyone can make up metadata URLs: ten times more than the cache holds, each fetched once,
    // while the client in use goes on signing people in.
    for n in 0..200 {
        resolver
            .resolve(&format!("{base}/flood-{n}.json"))
            .await
            .unwrap();
        if n % 5 == 0 {
            resolver.resolve(&in_use).await.unwrap();
        }
    }
    resolver.resolve(&in_use).await.unwrap();
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the document in use was evicted by the flood"
    );
}

#[tokio::test]
async fn a_failing_document_is_not_fetched_again_on_every_request() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = fetches.clone();
    let base = serve(Router::new().route(
        "/failing.json",
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::INTERNAL_SERVER_ERROR }
        }),
    ))
    .await;
    let resolver = CimdResolver::new(Some(LoopbackDocuments::default()));
    let failing = format!("{base}/failing.json");
    for _ in 0..50 {
        let e = resolver.resolve(&failing).await.unwrap_err();
        assert_eq!(e, CimdError::Status(500, ""));
    }
    println!(
        "50 resolves of a failing document: {} fetches",
        fetches.load(Ordering::SeqCst)
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the failure is remembered"
    );
}
