//! What an example client needs, from flags and the env files `deploy` and `serve` write.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use mcp_auth_conformance::revision::Revision;
use mcp_auth_server::{endpoint::is_loopback_http, local::DEFAULT_PORT};
use url::Url;

use crate::env_layout;

/// How the client gets its client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Pre-registered: id and secret from the env file; goes straight to the upstream AS.
    Static,
    /// Registers itself at the advertised `registration_endpoint` (RFC 7591).
    Dcr,
    /// Publishes its metadata document and uses that URL as its `client_id`.
    Cimd,
    /// Whatever the server's authorization server supports, in the MCP order: a pre-registered
    /// client if one was given, else CIMD when advertised, else DCR (`--conformance`).
    #[value(skip)]
    Auto,
}

impl Registration {
    /// The port each mode uses by default, as the reference clients do.
    pub fn default_port(self) -> u16 {
        match self {
            Registration::Static => 3000,
            Registration::Dcr => 3002,
            Registration::Cimd => 3003,
            Registration::Auto => 0,
        }
    }

    /// The name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Static => "static",
            Registration::Dcr => "dcr",
            Registration::Cimd => "cimd",
            Registration::Auto => "automatic",
        }
    }
}

/// A client registered at the authorization server beforehand (MCP, Pre-registration).
#[derive(Clone)]
pub struct PreRegistered {
    /// Its id.
    pub client_id: String,
    /// Its secret, for a confidential client.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for PreRegistered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreRegistered({}, [redacted])", self.client_id)
    }
}

/// A pre-registered client at the upstream AS (Cognito, or the development AS).
#[derive(Clone)]
pub struct StaticClient {
    /// The AS's issuer (recorded for RFC 9207).
    pub issuer: String,
    /// Its authorization endpoint.
    pub authorization_endpoint: Url,
    /// Its token endpoint.
    pub token_endpoint: Url,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The registered redirect URI (its port is the app's).
    pub redirect_uri: Url,
    /// The scopes to ask for.
    pub scopes: String,
}

/// Everything an example client runs with.
#[derive(Clone)]
pub struct ClientSettings {
    /// The registration path.
    pub registration: Registration,
    /// The MCP endpoint.
    pub server: Url,
    /// The app's port on 127.0.0.1.
    pub port: u16,
    /// The pre-registered client (static mode).
    pub static_client: Option<StaticClient>,
    /// Where the settings came from, for the first line of output.
    pub source: String,
    /// The MCP revision it speaks on the wire.
    pub revision: Revision,
    /// A client registered beforehand, used first when present (automatic registration).
    pub pre_registered: Option<PreRegistered>,
    /// Where its client metadata document is published, when not on the app's own port.
    pub metadata_url: Option<Url>,
}

impl ClientSettings {
    /// The app's base URL.
    pub fn base(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.port)).expect("a loopback URL")
    }

    /// Where authorization responses come back. Without a page (automatic registration),
    /// nothing listens there: a loopback redirect URI matches any port (RFC 8252 §7.3), and
    /// the code is read off the redirect.
    pub fn redirect_uri(&self) -> Url {
        match (&self.static_client, self.registration) {
            (Some(s), _) => s.redirect_uri.clone(),
            (None, Registration::Auto) => {
                Url::parse("http://127.0.0.1/callback").expect("a static URL")
            }
            (None, _) => self.base().join("/callback").expect("a path"),
        }
    }

    /// The settings of a client that registers however the server allows and speaks
    /// `revision`, with no page and no env file (`--conformance`).
    pub fn automatic(
        server: Url,
        revision: Revision,
        pre_registered: Option<PreRegistered>,
        metadata_url: Url,
        source: String,
    ) -> Self {
        Self {
            registration: Registration::Auto,
            server,
            port: 0,
            static_client: None,
            source,
            revision,
            pre_registered,
            metadata_url: Some(metadata_url),
        }
    }
}

/// The env file a mode reads: the deployed one if present, else (static) the local server's.
/// A local server on another port than the default writes its own file, which `--server`
/// naming that port selects (over a deployed one: it names exactly that server).
pub fn env_file_for(
    root: &Path,
    registration: Registration,
    server: Option<&Url>,
) -> Option<PathBuf> {
    let deployed = root.join(match registration {
        Registration::Static => env_layout::CLIENT_STATIC,
        Registration::Dcr => env_layout::CLIENT_DCR,
        Registration::Cimd => env_layout::CLIENT_CIMD,
        Registration::Auto => return None,
    });
    let local_port = match server {
        None => Some(DEFAULT_PORT),
        Some(url) if is_loopback_http(url) => url.port_or_known_default(),
        Some(_) => None,
    };
    let local = local_port
        .filter(|_| registration == Registration::Static)
        .map(|port| env_layout::local_static_client_path(root, port))
        .filter(|path| path.exists());
    match local {
        Some(local) if local_port != Some(DEFAULT_PORT) => Some(local),
        _ if deployed.exists() => Some(deployed),
        local => local,
    }
}

fn read(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    dotenvy::from_path_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|r| r.with_context(|| format!("{} is not an env file", path.display())))
        .collect()
}

/// Resolves the settings: `--server` wins over the env file's `MCP_SERVER_URL`, which wins over
/// the local server's default address.
pub fn resolve(
    root: &Path,
    registration: Registration,
    server: Option<Url>,
    port: Option<u16>,
    env_file: Option<PathBuf>,
) -> anyhow::Result<ClientSettings> {
    if registration == Registration::Auto {
        bail!("automatic registration is for `--conformance`");
    }
    let file = env_file.or_else(|| env_file_for(root, registration, server.as_ref()));
    let values = match &file {
        Some(path) => read(path)?,
        None => HashMap::new(),
    };
    let get = |k: &str| values.get(k).filter(|v| !v.is_empty()).cloned();
    let server = match (server, get("MCP_SERVER_URL")) {
        (Some(s), _) => s,
        (None, Some(s)) => Url::parse(&s).with_context(|| format!("MCP_SERVER_URL {s:?}"))?,
        (None, None) => {
            Url::parse(&format!("http://127.0.0.1:{DEFAULT_PORT}/mcp")).expect("a loopback URL")
        }
    };
    let static_client = if registration == Registration::Static {
        let Some(path) = &file else {
            bail!(
                "the static client needs its pre-registered id and secret: run `cargo xtask serve` \
                 (it writes {}; on another port N, {}.N, which --server \
                 http://127.0.0.1:N/mcp selects) or `cargo xtask deploy` (it writes {}), or pass \
                 --env-file",
                env_layout::CLIENT_STATIC_LOCAL,
                env_layout::CLIENT_STATIC_LOCAL,
                env_layout::CLIENT_STATIC
            );
        };
        let need = |k: &str| get(k).with_context(|| format!("{} has no {k}", path.display()));
        let url = |k: &str| -> anyhow::Result<Url> {
            let v = need(k)?;
            Url::parse(&v).with_context(|| format!("{k} in {} is not a URL: {v:?}", path.display()))
        };
        Some(StaticClient {
            issuer: need("OAUTH_ISSUER")?,
            authorization_endpoint: url("OAUTH_AUTHORIZATION_ENDPOINT")?,
            token_endpoint: url("OAUTH_TOKEN_ENDPOINT")?,
            client_id: need("OAUTH_CLIENT_ID")?,
            client_secret: need("OAUTH_CLIENT_SECRET")?,
            redirect_uri: url("OAUTH_REDIRECT_URI")?,
            scopes: need("OAUTH_SCOPES")?,
        })
    } else {
        None
    };
    // A pre-registered redirect URI fixes the port: the AS matches it exactly.
    let port = match (&static_client, port) {
        (Some(s), None) => s.redirect_uri.port().unwrap_or(registration.default_port()),
        (Some(s), Some(p)) if s.redirect_uri.port() != Some(p) => bail!(
            "--port {p} differs from the registered redirect URI {}: the AS matches it exactly, \
             port included. Register a callback on that port with `cargo xtask deploy \
             --example-callback-urls http://localhost:{p}/callback`, or leave --port out",
            s.redirect_uri
        ),
        (_, p) => p.unwrap_or(registration.default_port()),
    };
    Ok(ClientSettings {
        registration,
        server,
        port,
        static_client,
        source: file.map_or_else(
            || "no env file (local server defaults)".to_owned(),
            |p| p.display().to_string(),
        ),
        // The flows the example clients show: the 2025-11-25 handshake, which every server
        // of today speaks.
        revision: Revision::R2025_11_25,
        pre_registered: None,
        metadata_url: None,
    })
}

/// The URL of the client's metadata document (CIMD): where it was published, or the app's
/// own.
pub fn cimd_url(settings: &ClientSettings) -> Url {
    settings.metadata_url.clone().unwrap_or_else(|| {
        settings
            .base()
            .join(mcp_auth_conformance::client::cimd_host::DOCUMENT_PATH)
            .expect("a path")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: PathBuf) -> PathBuf {
        std::fs::write(&path, "MCP_CLIENT_REGISTRATION=static\n").unwrap();
        path
    }

    #[test]
    fn the_static_client_finds_the_local_server_that_server_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let url = |s: &str| Url::parse(s).unwrap();
        let find = |server: Option<&str>| {
            env_file_for(root, Registration::Static, server.map(url).as_ref())
        };
        assert_eq!(find(None), None);
        let default = touch(root.join(".env.client.static.local"));
        let other = touch(root.join(".env.client.static.local.9000"));
        assert_eq!(find(None), Some(default.clone()));
        assert_eq!(
            find(Some("http://localhost:8080/mcp")),
            Some(default.clone())
        );
        assert_eq!(find(Some("http://127.0.0.1:9000/mcp")), Some(other.clone()));
        // Another server's settings would sign in with a client that server does not know.
        assert_eq!(find(Some("http://127.0.0.1:9001/mcp")), None);
        assert_eq!(find(Some("https://mcp.example.com/mcp")), None);

        let deployed = touch(root.join(".env.client.static"));
        assert_eq!(find(None), Some(deployed.clone()));
        assert_eq!(find(Some("https://mcp.example.com/mcp")), Some(deployed));
        assert_eq!(find(Some("http://127.0.0.1:9000/mcp")), Some(other));
        assert_eq!(env_file_for(root, Registration::Dcr, None), None);
    }
}
