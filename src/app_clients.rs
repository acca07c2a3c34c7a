//! The stack's Cognito app clients, read back with their secrets (which never go into Outputs).

use std::fmt;

use aws_sdk_cognitoidentityprovider::Client;

use crate::aws::AwsError;

/// An app client secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret itself, for the env file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// A confidential app client as Cognito describes it.
#[derive(Debug, Clone)]
pub struct AppClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: ClientSecret,
    /// Registered callback URLs, in order.
    pub callback_urls: Vec<String>,
}

/// Why an app client could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AppClientError {
    /// The Cognito call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The client has no secret although the template asks for one.
    #[error(
        "app client {0} has no secret; the template creates it with GenerateSecret: true. Was it \
         changed by hand? Run `cargo xtask cleanup` and deploy again"
    )]
    NoSecret(String),
}

/// Reads one app client of the pool, secret included (DescribeUserPoolClient).
pub async fn read(
    client: &Client,
    pool_id: &str,
    client_id: &str,
) -> Result<AppClient, AppClientError> {
    let out = client
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeUserPoolClient", e))?;
    let described = out.user_pool_client();
    let secret = described
        .and_then(|c| c.client_secret())
        .ok_or_else(|| AppClientError::NoSecret(client_id.to_owned()))?;
    Ok(AppClient {
        id: client_id.to_owned(),
        secret: ClientSecret(secret.to_owned()),
        callback_urls: described
            .map(|c| c.callback_urls().to_vec())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let c = AppClient {
            id: "abc".into(),
            secret: ClientSecret("s3cr3t".into()),
            callback_urls: vec![],
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
    }
}
