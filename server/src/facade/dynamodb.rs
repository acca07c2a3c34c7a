//! The façade's state in DynamoDB, so that several server replicas share it.
//!
//! One table (the stack's `TableName`): partition key `pk` = `<kind>#<key>`, sort key `sk` =
//! `<kind>`, the record as JSON in `doc`, and `expires_at` (epoch seconds) for DynamoDB's TTL.
//! TTL deletes lazily (hours late), so expiry is also checked on every read. Inserts are
//! conditional (a live record is never overwritten); `take` is a conditional delete that returns
//! the old item, so a code or pending authorization is redeemed once across all replicas.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    config::timeout::TimeoutConfig,
    error::{DisplayErrorContext, SdkError},
    operation::{delete_item::DeleteItemError, put_item::PutItemError},
    types::{AttributeValue, ReturnValue},
};

use super::store::{Kind, Store, StoreError, now_secs};

/// Bound on one attempt at a store call; an unreachable or paused table fails fast.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on a store call with its retries: well under the server's 30 s request limit, so a
/// request fails with a clear 503 rather than being cut off with nothing said.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`] over one DynamoDB table.
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`; every call is bounded by [`ATTEMPT_TIMEOUT`] and
    /// [`OPERATION_TIMEOUT`], whatever timeouts `client` had.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(ATTEMPT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let config = client
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.into(),
        }
    }

    fn key(kind: Kind, key: &str) -> (AttributeValue, AttributeValue) {
        (
            AttributeValue::S(format!("{}#{key}", kind.as_str())),
            AttributeValue::S(kind.as_str().to_owned()),
        )
    }

    fn item(
        kind: Kind,
        key: &str,
        value: &serde_json::Value,
        expires_at: u64,
    ) -> std::collections::HashMap<String, AttributeValue> {
        let (pk, sk) = Self::key(kind, key);
        [
            ("pk".to_owned(), pk),
            ("sk".to_owned(), sk),
            ("doc".to_owned(), AttributeValue::S(value.to_string())),
            (
                "expires_at".to_owned(),
                AttributeValue::N(expires_at.to_string()),
            ),
        ]
        .into()
    }

    fn live_doc(
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let expires_at = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if expires_at <= now_secs() {
            return Ok(None);
        }
        let doc = item
            .get("doc")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Corrupt("no doc attribute".into()))?;
        serde_json::from_str(doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn backend<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    StoreError::Backend(DisplayErrorContext(&e).to_string())
}

#[async_trait]
impl Store for DynamoStore {
    async fn insert(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(kind, key, &value, expires_at)))
            // A record past its expiry may be replaced even if TTL has not swept it yet.
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::Conflict(kind.as_str()))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(kind, key, &value, expires_at)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let (pk, sk) = Self::key(kind, key);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        match out.item() {
            Some(item) => Self::live_doc(item),
            None => Ok(None),
        }
    }

    async fn take(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let (pk, sk) = Self::key(kind, key);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes() {
                Some(item) => Self::live_doc(item),
                None => Ok(None),
            },
            // Another replica took it first, or it never existed.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: &serde_json::Value,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(kind, key, &value, expires_at)))
            .condition_expression("doc = :expected AND expires_at > :now")
            .expression_attribute_values(":expected", AttributeValue::S(expected.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs().to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(backend(e)),
        }
    }
}
