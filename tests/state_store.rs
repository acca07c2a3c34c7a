//! The façade's state stores, held to the same tests: in memory (local mode) and DynamoDB (AWS
//! mode, here against the emulator, with two store instances standing for two replicas).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth_server::facade::{
    admission,
    dynamodb::DynamoStore,
    store::{Kind, MemoryStore, Store, StoreError, now_secs},
};
use serde_json::json;

async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&support::sdk_config().await)
}

/// Two handles on one store: for DynamoDB, two clients (two replicas); in memory, one store.
async fn stores(backend: &str, test: &str) -> (Arc<dyn Store>, Arc<dyn Store>) {
    match backend {
        "memory" => {
            let s: Arc<dyn Store> = Arc::new(MemoryStore::default());
            (s.clone(), s)
        }
        _ => {
            let t = support::state_table(&dynamodb_client().await, test).await;
            (
                Arc::new(DynamoStore::new(dynamodb_client().await, t.clone())),
                Arc::new(DynamoStore::new(dynamodb_client().await, t)),
            )
        }
    }
}

const BACKENDS: [&str; 2] = ["memory", "dynamodb"];

#[tokio::test]
async fn records_written_by_one_replica_are_read_by_another() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "replica").await;
        let exp = now_secs() + 600;
        a.insert(Kind::Client, "c1", json!({"client_id": "c1"}), exp)
            .await
            .unwrap();
        assert_eq!(
            b.get(Kind::Client, "c1").await.unwrap(),
            Some(json!({"client_id": "c1"})),
            "{backend}"
        );
        assert_eq!(
            b.get(Kind::Code, "c1").await.unwrap(),
            None,
            "{backend}: kinds are separate key spaces"
        );
        a.put(Kind::Client, "c1", json!({"client_id": "c1", "v": 2}), exp)
            .await
            .unwrap();
        assert_eq!(
            b.get(Kind::Client, "c1").await.unwrap().unwrap()["v"],
            2,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn two_replicas_admit_exactly_up_to_a_cap_between_them() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "admission").await;
        let cap = 30;
        let mut admitting = tokio::task::JoinSet::new();
        for i in 0..48 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            admitting.spawn(async move {
                admission::admit(
                    store.as_ref(),
                    "registrations",
                    cap,
                    Duration::from_secs(3600),
                )
                .await
            });
        }
        let mut admitted = 0;
        let mut contended = 0;
        while let Some(outcome) = admitting.join_next().await {
            match outcome.unwrap() {
                Ok(true) => admitted += 1,
                Ok(false) => {}
                // Lost every compare-and-swap: answered as an outage, never as an admission.
                Err(StoreError::Backend(_)) => contended += 1,
                Err(e) => panic!("{backend}: {e}"),
            }
        }
        println!(
            "{backend}: 48 concurrent admissions against {cap}: {admitted} admitted, {contended} gave up"
        );
        assert!(
            admitted <= cap,
            "{backend}: {admitted} admitted past a cap of {cap}"
        );
        // Whatever contention cost, the cap is reached by asking again: no place was lost.
        while admission::admit(a.as_ref(), "registrations", cap, Duration::from_secs(3600))
            .await
            .unwrap()
        {
            admitted += 1;
        }
        assert_eq!(admitted, cap, "{backend}");
    }
}

#[tokio::test]
async fn expired_state_is_refused_even_before_it_is_swept() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "expiry").await;
        // The emulator never runs TTL, like DynamoDB's hours-late sweeper: the store must check.
        a.put(Kind::Pending, "p1", json!({"x": 1}), now_secs() - 1)
            .await
            .unwrap();
        assert_eq!(b.get(Kind::Pending, "p1").await.unwrap(), None, "{backend}");
        assert_eq!(
            b.take(Kind::Pending, "p1").await.unwrap(),
            None,
            "{backend}"
        );
        // An expired record may be replaced by a new insert.
        a.put(Kind::Code, "k", json!({"old": true}), now_secs() - 1)
            .await
            .unwrap();
        b.insert(Kind::Code, "k", json!({"new": true}), now_secs() + 60)
            .await
            .unwrap();
        assert_eq!(
            a.get(Kind::Code, "k").await.unwrap(),
            Some(json!({"new": true})),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_conditional_write_conflict_is_reported_and_loses_nothing() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "conflict").await;
        let exp = now_secs() + 600;
        a.insert(Kind::Pending, "state-1", json!({"first": true}), exp)
            .await
            .unwrap();
        let second = b
            .insert(Kind::Pending, "state-1", json!({"second": true}), exp)
            .await;
        assert!(
            matches!(second, Err(StoreError::Conflict("pending"))),
            "{backend}: {second:?}"
        );
        assert_eq!(
            a.get(Kind::Pending, "state-1").await.unwrap(),
            Some(json!({"first": true})),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_code_is_taken_exactly_once_across_replicas() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "once").await;
        a.insert(
            Kind::Code,
            "code-1",
            json!({"tokens": "t"}),
            now_secs() + 300,
        )
        .await
        .unwrap();
        let (x, y) = tokio::join!(a.take(Kind::Code, "code-1"), b.take(Kind::Code, "code-1"));
        let winners = [x.unwrap(), y.unwrap()].into_iter().flatten().count();
        assert_eq!(
            winners, 1,
            "{backend}: exactly one replica redeems the code"
        );
        assert_eq!(
            a.get(Kind::Code, "code-1").await.unwrap(),
            None,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_refresh_family_rotates_exactly_once_across_replicas() {
    for backend in BACKENDS {
        let (a, b) = stores(backend, "rotate").await;
        let exp = now_secs() + 600;
        let live = json!({"client_id": "c", "handle_sha256": "h1", "upstream": "u"});
        a.insert(Kind::Family, "f1", live.clone(), exp)
            .await
            .unwrap();
        // Two replicas rotate the same handle at once: one wins, the other is told so.
        let (x, y) = tokio::join!(
            a.replace(
                Kind::Family,
                "f1",
                &live,
                json!({"handle_sha256": "h2a"}),
                exp
            ),
            b.replace(
                Kind::Family,
                "f1",
                &live,
                json!({"handle_sha256": "h2b"}),
                exp
            ),
        );
        let wins = [x.unwrap(), y.unwrap()];
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "{backend}: {wins:?}"
        );
        let now = a.get(Kind::Family, "f1").await.unwrap().unwrap();
        assert!(
            now == json!({"handle_sha256": "h2a"}) || now == json!({"handle_sha256": "h2b"}),
            "{backend}: {now}"
        );
        // A stale expectation, a missing record and an expired one are not replaced.
        assert!(
            !b.replace(Kind::Family, "f1", &live, json!({}), exp)
                .await
                .unwrap(),
            "{backend}"
        );
        assert!(
            !b.replace(Kind::Family, "none", &live, json!({}), exp)
                .await
                .unwrap(),
            "{backend}"
        );
        a.put(Kind::Family, "old", live.clone(), now_secs() - 1)
            .await
            .unwrap();
        assert!(
            !b.replace(Kind::Family, "old", &live, json!({}), exp)
                .await
                .unwrap(),
            "{backend}: expired"
        );
    }
}
