//! Cognito mode: the server in front of the stack `cargo xtask deploy` created, configured by
//! the env file it wrote (`server/.env`), with the façade's state in DynamoDB.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    sync::Arc,
};

use crate::{
    client_address::TrustedProxies,
    endpoint::{Endpoint, Issuer},
    facade::{UpstreamConfig, dynamodb::DynamoStore},
    resource::ResourceUri,
    runtime::{self, Assembly, Running, StartError},
    secret::random_token,
};

/// The deployment, as the env file describes it.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The MCP resource URI; its origin is the server's public base URL.
    pub resource: ResourceUri,
    /// AWS region.
    pub region: String,
    /// The pool's issuer.
    pub issuer: String,
    /// The pool's JWKS (the emulator's, behind an endpoint override).
    pub jwks_url: Endpoint,
    /// Managed login base URL, as the stack's output writes it (no trailing slash); checked to be
    /// an [`Endpoint`] when read.
    pub domain_url: String,
    /// The façade's upstream client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Its callback, as registered at Cognito; checked to be an [`Endpoint`] when read.
    pub callback_url: String,
    /// The state table.
    pub table: String,
    /// `AWS_ENDPOINT_URL`, when the deployment is behind one.
    pub endpoint_url: Option<String>,
    /// `FACADE_CSRF_KEY`: the façade's key, which replicas share (32+ characters).
    pub csrf_key: Option<String>,
    /// `COGNITO_TOKEN_RESOURCE=true`: also send RFC 8707 `resource` to the token endpoint (off:
    /// Cognito documents resource binding at the authorize endpoint only).
    pub resource_at_token_endpoint: bool,
}

/// Why the env file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable or malformed.
    #[error("cannot read {path}: {cause}")]
    Unreadable {
        /// The file.
        path: String,
        /// What went wrong.
        cause: String,
    },
    /// A key is missing or wrong.
    #[error("{path}: {key} {problem}; run `cargo xtask deploy` to rewrite it")]
    Bad {
        /// The file.
        path: String,
        /// The key.
        key: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

impl Deployment {
    /// Reads the env file `cargo xtask deploy` wrote.
    pub fn from_env_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let pairs: Vec<(String, String)> = dotenvy::from_path_iter(path)
            .and_then(|iter| iter.collect::<Result<_, _>>())
            .map_err(|e| ConfigError::Unreadable {
                path: shown.clone(),
                cause: e.to_string(),
            })?;
        let get = |key: &'static str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::Bad {
                    path: shown.clone(),
                    key,
                    problem: "is missing".into(),
                })
        };
        let bad = |key: &'static str, problem: String| ConfigError::Bad {
            path: shown.clone(),
            key,
            problem,
        };
        if get("MCP_AUTH_MODE")? != "cognito" {
            return Err(bad("MCP_AUTH_MODE", "is not \"cognito\"".into()));
        }
        let resource: ResourceUri =
            get("MCP_RESOURCE_URI")?
                .parse()
                .map_err(|e: crate::resource::ResourceUriError| {
                    bad("MCP_RESOURCE_URI", e.to_string())
                })?;
        Issuer::for_resource(&resource).map_err(|e| bad("MCP_RESOURCE_URI", e.to_string()))?;
        let endpoint = |key: &'static str| {
            let value = get(key)?;
            Endpoint::parse(&value)
                .map(|e| (value, e))
                .map_err(|e| bad(key, e.to_string()))
        };
        let (_, jwks_url) = endpoint("COGNITO_JWKS_URL")?;
        let (domain_url, _) = endpoint("COGNITO_DOMAIN_URL")?;
        let (callback_url, _) = endpoint("COGNITO_UPSTREAM_CALLBACK_URL")?;
        Ok(Self {
            resource,
            region: get("AWS_REGION")?,
            issuer: get("COGNITO_ISSUER")?,
            jwks_url,
            domain_url: domain_url.trim_end_matches('/').to_owned(),
            client_id: get("COGNITO_UPSTREAM_CLIENT_ID")?,
            client_secret: get("COGNITO_UPSTREAM_CLIENT_SECRET")?,
            callback_url,
            table: get("DYNAMODB_TABLE")?,
            endpoint_url: get("AWS_ENDPOINT_URL").ok(),
            csrf_key: match get("FACADE_CSRF_KEY").ok() {
                Some(k) if k.len() < 32 => {
                    return Err(bad(
                        "FACADE_CSRF_KEY",
                        "is shorter than 32 characters".into(),
                    ));
                }
                key => key,
            },
            resource_at_token_endpoint: match get("COGNITO_TOKEN_RESOURCE").ok().as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(bad(
                        "COGNITO_TOKEN_RESOURCE",
                        format!("is {other:?}; use true or false"),
                    ));
                }
            },
        })
    }

    /// The user pool's id: the last path segment of its issuer URL.
    pub fn user_pool_id(&self) -> &str {
        self.issuer
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }

    /// The public base URL: the resource URI's origin.
    pub fn base_url(&self) -> String {
        self.resource.origin()
    }
}

/// How to run in Cognito mode.
#[derive(Debug, Clone, Default)]
pub struct CognitoOptions {
    /// Where to listen; default 127.0.0.1 and the resource URI's port.
    pub listen: Option<SocketAddr>,
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// The façade's CSRF key; replicas behind one name must share it.
    pub csrf_key: Option<Vec<u8>>,
    /// RFC 7662 introspection for opaque tokens (Cognito itself issues JWTs).
    pub introspection: Option<crate::introspection::IntrospectionConfig>,
    /// AWS configuration to use instead of the standard chain (region and endpoint from the
    /// env file apply only to the standard chain).
    pub aws: Option<aws_config::SdkConfig>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (none: the peer is the client).
    pub trusted_proxies: TrustedProxies,
}

/// Starts the server against the deployment.
pub async fn start(deployment: Deployment, options: CognitoOptions) -> Result<Running, StartError> {
    let resource_url = deployment.resource.url();
    let port = resource_url.port_or_known_default().unwrap_or(8080);
    let listen = options
        .listen
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    let listener = runtime::bind(listen).await?;
    let aws = match options.aws {
        Some(config) => config,
        None => {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(deployment.region.clone()));
            if let Some(endpoint) = &deployment.endpoint_url {
                loader = loader.endpoint_url(endpoint);
            }
            loader.load().await
        }
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let host = resource_url.host_str().unwrap_or("localhost").to_owned();
    let csrf_key = options
        .csrf_key
        .or_else(|| deployment.csrf_key.clone().map(String::into_bytes))
        .unwrap_or_else(|| {
            tracing::warn!("no FACADE_CSRF_KEY (in the env file or the environment): using a random one, so consent forms do not survive a restart and replicas cannot share them; `cargo xtask deploy` writes one");
            random_token(32).into_bytes()
        });
    // Checked when the env file was read; a caller that changed them (smoke's recorder) is
    // checked again here, before anything listens on their behalf.
    let domain = Endpoint::parse(&deployment.domain_url)?;
    Running::start(Assembly {
        listener,
        resource: deployment.resource.clone(),
        upstream_issuer: deployment.issuer.clone(),
        upstream_jwks: Some(deployment.jwks_url.clone()),
        upstream: UpstreamConfig {
            authorization_endpoint: domain.under("/oauth2/authorize"),
            token_endpoint: domain.under("/oauth2/token"),
            client_id: deployment.client_id.clone(),
            client_secret: deployment.client_secret.clone(),
            redirect_uri: Endpoint::parse(&deployment.callback_url)?,
            // Cognito's RFC 7009 endpoint; the app client has token revocation enabled.
            revocation_endpoint: Some(domain.under("/oauth2/revoke")),
            resource_at_token_endpoint: deployment.resource_at_token_endpoint,
        },
        store: Arc::new(DynamoStore::new(dynamodb, deployment.table.clone())),
        allowed_origins: options.allowed_origins,
        allowed_hosts: vec![host, "127.0.0.1".into(), "localhost".into()],
        extra: axum::Router::new(),
        loopback_cimd: None,
        csrf_key,
        introspection: options.introspection,
        trusted_proxies: options.trusted_proxies,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An env file as `deploy` writes it for a deployment at `resource`, `domain` its managed
    /// login.
    fn env_file(resource: &str, domain: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            format!(
                "MCP_AUTH_MODE=cognito\nMCP_RESOURCE_URI={resource}\nAWS_REGION=us-east-1\n\
                 COGNITO_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x\n\
                 COGNITO_JWKS_URL=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x/.well-known/jwks.json\n\
                 COGNITO_DOMAIN_URL={domain}\nCOGNITO_UPSTREAM_CLIENT_ID=c\n\
                 COGNITO_UPSTREAM_CLIENT_SECRET=s\n\
                 COGNITO_UPSTREAM_CALLBACK_URL=https://mcp.example.com/oauth/callback\n\
                 DYNAMODB_TABLE=t\n"
            ),
        )
        .unwrap();
        file
    }

    fn refused_key(resource: &str, domain: &str) -> Option<&'static str> {
        match Deployment::from_env_file(env_file(resource, domain).path()) {
            Ok(_) => None,
            Err(ConfigError::Bad { key, .. }) => Some(key),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_public_url_in_clear_off_this_machine_is_refused_at_start_up() {
        let cognito = "https://kit.auth.us-east-1.amazoncognito.com";
        assert_eq!(refused_key("https://mcp.example.com/mcp", cognito), None);
        assert_eq!(refused_key("http://localhost:8080/mcp", cognito), None);
        // Edited by hand after deploy (which refuses it): the façade's cookies could not be
        // `__Host-`, and tokens would cross the network unencrypted.
        assert_eq!(
            refused_key("http://mcp.example.com/mcp", cognito),
            Some("MCP_RESOURCE_URI")
        );
        assert_eq!(
            refused_key(
                "https://mcp.example.com/mcp",
                "http://kit.auth.us-east-1.amazoncognito.com"
            ),
            Some("COGNITO_DOMAIN_URL")
        );
        let message =
            Deployment::from_env_file(env_file("http://mcp.example.com/mcp", cognito).path())
                .unwrap_err()
                .to_string();
        assert!(
            message.contains("plain http to mcp.example.com") && message.contains("Use https"),
            "{message}"
        );
    }
}
