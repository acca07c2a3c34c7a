//! The env files a deployment writes, and what each holds. docs/deploying.md documents every key.

use std::path::{Path, PathBuf};

use crate::{app_clients::AppClient, envfile::EnvFile, stack::outputs::StackOutputs};

/// The bundled server's settings.
pub const SERVER: &str = "server/.env";
/// The pre-registered (static) example client's settings.
pub const CLIENT_STATIC: &str = ".env.client.static";
/// The dynamic-registration example client's settings.
pub const CLIENT_DCR: &str = ".env.client.dcr";
/// The client-ID-metadata-document example client's settings.
pub const CLIENT_CIMD: &str = ".env.client.cimd";

/// The static example client's settings in local mode, written by `serve` on the default port
/// while it runs; a server on another port writes [`local_static_client_path`]'s file instead.
pub const CLIENT_STATIC_LOCAL: &str = ".env.client.static.local";

/// Every env file `deploy` writes, relative to the env folder.
pub const ALL: [&str; 4] = [SERVER, CLIENT_STATIC, CLIENT_DCR, CLIENT_CIMD];

/// What the files are made from.
pub struct Deployment<'a> {
    /// The stack's outputs.
    pub outputs: &'a StackOutputs,
    /// The facade's upstream client, with its secret.
    pub upstream: &'a AppClient,
    /// The static example's client, with its secret.
    pub example: &'a AppClient,
    /// `AWS_ENDPOINT_URL`, when AWS is reached through one (an emulator, say).
    pub endpoint_url: Option<&'a str>,
    /// The façade's key (consent forms, browser and flow cookies): generated once, kept across
    /// deploys, so replicas and restarts share it.
    pub csrf_key: &'a str,
}

/// The façade key a previous deploy wrote into `server/.env` under `dir`, if any.
pub fn existing_csrf_key(dir: &Path) -> Option<String> {
    dotenvy::from_path_iter(dir.join(SERVER))
        .ok()?
        .filter_map(Result::ok)
        .find(|(k, _)| k == "FACADE_CSRF_KEY")
        .map(|(_, v)| v)
        .filter(|v| v.len() >= 32)
}

/// What the local server's static client needs.
pub struct LocalStatic<'a> {
    /// The MCP endpoint.
    pub server_url: &'a str,
    /// The development AS's issuer.
    pub issuer: &'a str,
    /// The static client's id.
    pub client_id: &'a str,
    /// Its secret.
    pub client_secret: &'a str,
    /// Its redirect URI.
    pub redirect_uri: &'a str,
    /// Scopes to ask for.
    pub scopes: &'a str,
}

/// Where a local server on `port` keeps its static client's settings: [`CLIENT_STATIC_LOCAL`]
/// on the default port, `.env.client.static.local.<port>` on any other. Only one server can
/// listen on a port, so two servers in one checkout never write (or remove) each other's file.
pub fn local_static_client_path(dir: &Path, port: u16) -> PathBuf {
    if port == mcp_auth_server::local::DEFAULT_PORT {
        dir.join(CLIENT_STATIC_LOCAL)
    } else {
        dir.join(format!("{CLIENT_STATIC_LOCAL}.{port}"))
    }
}

/// The env file of the static example client of the local server on `port`, with the same
/// keys as [`CLIENT_STATIC`] has after a deployment.
pub fn local_static_client(dir: &Path, port: u16, s: &LocalStatic<'_>) -> EnvFile {
    EnvFile {
        path: local_static_client_path(dir, port),
        purpose: "Read by `cargo xtask client --registration static` in local mode; holds its client secret.",
        entries: vec![
            ("MCP_CLIENT_REGISTRATION", "static".to_owned()),
            ("MCP_SERVER_URL", s.server_url.to_owned()),
            ("OAUTH_ISSUER", s.issuer.to_owned()),
            (
                "OAUTH_AUTHORIZATION_ENDPOINT",
                format!("{}/oauth2/authorize", s.issuer),
            ),
            ("OAUTH_TOKEN_ENDPOINT", format!("{}/oauth2/token", s.issuer)),
            ("OAUTH_CLIENT_ID", s.client_id.to_owned()),
            ("OAUTH_CLIENT_SECRET", s.client_secret.to_owned()),
            ("OAUTH_REDIRECT_URI", s.redirect_uri.to_owned()),
            ("OAUTH_SCOPES", s.scopes.to_owned()),
        ],
    }
}

/// The paths of every env file under `dir`.
pub fn paths(dir: &Path) -> Vec<PathBuf> {
    ALL.iter().map(|rel| dir.join(rel)).collect()
}

/// The env files for a deployment, under `dir`.
pub fn files(dir: &Path, d: &Deployment<'_>) -> Vec<EnvFile> {
    let o = d.outputs;
    // Behind an endpoint override the JWKS is served there, while tokens still name the AWS
    // issuer, so the server must fetch keys from the endpoint.
    let jwks_url = match d.endpoint_url {
        Some(endpoint) => format!(
            "{}/{}/.well-known/jwks.json",
            endpoint.trim_end_matches('/'),
            o.user_pool_id
        ),
        None => o.jwks_url.clone(),
    };
    let mut server = vec![
        ("MCP_AUTH_MODE", "cognito".to_owned()),
        ("MCP_RESOURCE_URI", o.resource_uri.clone()),
        ("MCP_SCOPES", o.scopes.clone()),
        ("AWS_REGION", o.region.clone()),
        ("COGNITO_USER_POOL_ID", o.user_pool_id.clone()),
        ("COGNITO_ISSUER", o.issuer_url.clone()),
        ("COGNITO_JWKS_URL", jwks_url),
        ("COGNITO_DOMAIN_URL", o.domain_base_url.clone()),
        ("COGNITO_UPSTREAM_CLIENT_ID", d.upstream.id.clone()),
        (
            "COGNITO_UPSTREAM_CLIENT_SECRET",
            d.upstream.secret.expose().to_owned(),
        ),
        (
            "COGNITO_UPSTREAM_CALLBACK_URL",
            o.upstream_callback_url.clone(),
        ),
        ("DYNAMODB_TABLE", o.table_name.clone()),
        ("FACADE_CSRF_KEY", d.csrf_key.to_owned()),
    ];
    if let Some(endpoint) = d.endpoint_url {
        server.push(("AWS_ENDPOINT_URL", endpoint.to_owned()));
    }
    let domain = o.domain_base_url.trim_end_matches('/');
    let static_client = vec![
        ("MCP_CLIENT_REGISTRATION", "static".to_owned()),
        ("MCP_SERVER_URL", o.resource_uri.clone()),
        ("OAUTH_ISSUER", o.issuer_url.clone()),
        (
            "OAUTH_AUTHORIZATION_ENDPOINT",
            format!("{domain}/oauth2/authorize"),
        ),
        ("OAUTH_TOKEN_ENDPOINT", format!("{domain}/oauth2/token")),
        ("OAUTH_CLIENT_ID", d.example.id.clone()),
        ("OAUTH_CLIENT_SECRET", d.example.secret.expose().to_owned()),
        (
            "OAUTH_REDIRECT_URI",
            d.example.callback_urls.first().cloned().unwrap_or_default(),
        ),
        ("OAUTH_SCOPES", format!("openid email {}", o.scopes)),
    ];
    let registering_client = |mode: &str| {
        vec![
            ("MCP_CLIENT_REGISTRATION", mode.to_owned()),
            ("MCP_SERVER_URL", o.resource_uri.clone()),
        ]
    };
    vec![
        EnvFile {
            path: dir.join(SERVER),
            purpose: "Read by the bundled server (cargo xtask serve); holds the upstream client secret.",
            entries: server,
        },
        EnvFile {
            path: dir.join(CLIENT_STATIC),
            purpose: "Read by `cargo xtask client --registration static`; holds its client secret.",
            entries: static_client,
        },
        EnvFile {
            path: dir.join(CLIENT_DCR),
            purpose: "Read by `cargo xtask client --registration dcr`.",
            entries: registering_client("dcr"),
        },
        EnvFile {
            path: dir.join(CLIENT_CIMD),
            purpose: "Read by `cargo xtask client --registration cimd`.",
            entries: registering_client("cimd"),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_port_keeps_the_plain_name_and_other_ports_get_their_own() {
        let dir = Path::new("/w");
        assert_eq!(
            local_static_client_path(dir, mcp_auth_server::local::DEFAULT_PORT),
            dir.join(".env.client.static.local")
        );
        assert_eq!(
            local_static_client_path(dir, 41234),
            dir.join(".env.client.static.local.41234")
        );
    }
}
