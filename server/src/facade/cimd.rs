//! Client ID Metadata Documents: a `client_id` that is an https URL is resolved by fetching the
//! document it names, safely (draft-ietf-oauth-client-id-metadata-document section 6).
//!
//! The fetch is the server reaching out to a URL an anonymous party chose, so: https only (http
//! on loopback only in development), *every* address the host resolves to vetted (no loopback,
//! private, link-local and cloud metadata, CGNAT, ULA, multicast, reserved, or IPv4 hidden
//! inside IPv6) by the HTTP client's own DNS resolver, so the connection can only go to an
//! address from the answer that was vetted (no second lookup to rebind), IP-literal hosts vetted
//! before the fetch, no redirects, no proxy, a 5 s timeout, a 64 KiB cap, JSON only. Documents
//! are cached for their `Cache-Control: max-age`, bounded to [1 min, 1 day]; a failed fetch for 30 s.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use url::Url;

use super::{
    client_metadata::{ClientMetadata, Source},
    clients::{Client, Origin},
    store::now_secs,
};
use crate::expiring::ExpiringCache;

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Whole-fetch timeout.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_CACHE: Duration = Duration::from_secs(60);
const MAX_CACHE: Duration = Duration::from_secs(86_400);
const DEFAULT_CACHE: Duration = Duration::from_secs(300);
/// Most documents cached.
pub const MAX_CACHED: u64 = 10_000;
/// How long a failed fetch is remembered: a document that fails is not fetched again on every
/// `/authorize` naming it, and one that was fixed works again half a minute later.
pub const FAILURE_CACHE: Duration = Duration::from_secs(30);

/// Why a metadata document was refused; the text is shown to the user on an error page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CimdError {
    /// The `client_id` URL itself is unacceptable.
    #[error("client_id URL refused: {0}")]
    BadUrl(String),
    /// The host resolves to an address the server must not contact.
    #[error("client_id host {host} resolves to {addr}, which is not a public address")]
    ForbiddenAddress {
        /// The host.
        host: String,
        /// The address refused.
        addr: IpAddr,
    },
    /// DNS failed.
    #[error("client_id host {0} could not be resolved")]
    Unresolvable(String),
    /// The fetch failed or was too slow.
    #[error("fetching the client metadata document failed: {0}")]
    Fetch(String),
    /// Not a 200.
    #[error("the client metadata document answered HTTP {0}{1}")]
    Status(u16, &'static str),
    /// Over the size cap.
    #[error("the client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// Not JSON.
    #[error("the client metadata document is not JSON ({0})")]
    NotJson(String),
    /// JSON, but not acceptable metadata.
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
}

/// Resolves and caches metadata documents.
pub struct CimdResolver {
    /// Fetches https documents: every address must be public.
    public: reqwest::Client,
    /// Fetches loopback documents (`http://`, or `https://` trusting a development CA), in
    /// development only: every address must be loopback.
    loopback: Option<reqwest::Client>,
    /// Documents, and failed fetches (for [`FAILURE_CACHE`]).
    cache: ExpiringCache<String, Result<Client, CimdError>>,
}

/// Development only: metadata documents served on this machine are admitted, over `http://` or
/// over `https://` (an SDK that insists on https can then be tried locally).
#[derive(Debug, Clone, Default)]
pub struct LoopbackDocuments {
    /// Development CAs trusted for loopback documents only, on top of the system's roots (the
    /// public fetches never trust them).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl LoopbackDocuments {
    /// Loopback documents, trusting the CA in the PEM file at `path` for them.
    pub fn trusting(path: &std::path::Path) -> Result<Self, DevelopmentCaError> {
        let unusable = |why: String| DevelopmentCaError {
            path: path.to_owned(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
        let roots =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(e.to_string()))?;
        if roots.is_empty() {
            return Err(unusable("it holds no PEM certificate".into()));
        }
        Ok(Self { extra_roots: roots })
    }
}

/// A development CA that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use {} as the development CA: {why}; give a PEM file holding the CA certificate", path.display())]
pub struct DevelopmentCaError {
    path: std::path::PathBuf,
    why: String,
}

/// Which addresses a document may be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Public internet addresses only ([`is_public`]).
    Public,
    /// Loopback only (development documents on this machine).
    Loopback,
}

impl AddressPolicy {
    /// Whether `ip` may be contacted.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressPolicy::Public => is_public(ip),
            AddressPolicy::Loopback => ip.is_loopback(),
        }
    }

    /// The addresses a host resolved to, if every one is allowed: a name that also resolves to
    /// 127.0.0.1 is refused rather than gambled on.
    pub fn vet(self, host: &str, addrs: &[SocketAddr]) -> Result<(), CimdError> {
        if addrs.is_empty() {
            return Err(CimdError::Unresolvable(host.to_owned()));
        }
        match addrs.iter().find(|a| !self.allows(a.ip())) {
            Some(a) => Err(CimdError::ForbiddenAddress {
                host: host.to_owned(),
                addr: a.ip(),
            }),
            None => Ok(()),
        }
    }
}

/// The HTTP client's DNS resolver: the system's lookup, and the whole answer refused unless
/// every address is allowed. The client connects only to addresses this returned, so a name
/// cannot be vetted on one lookup and rebound to 169.254.169.254 on the next.
pub struct VettingResolver(pub AddressPolicy);

impl reqwest::dns::Resolve for VettingResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let unresolvable = || CimdError::Unresolvable(host.clone());
            let addrs: Vec<SocketAddr> =
                tokio::time::timeout(FETCH_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0)))
                    .await
                    .map_err(|_| unresolvable())?
                    .map_err(|_| unresolvable())?
                    .collect();
            policy.vet(&host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for documents from addresses `policy` allows, trusting `extra_roots` too.
fn document_client(
    policy: AddressPolicy,
    extra_roots: Vec<reqwest::Certificate>,
) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_merge(extra_roots)
        .dns_resolver(VettingResolver(policy))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        // Fetches are rare (documents are cached) and go to hosts anyone picks: keep no
        // connection open to them between fetches.
        .pool_max_idle_per_host(0)
        .user_agent("mcp-auth-kit CIMD resolver")
        .build()
        .expect("an HTTP client with static settings")
}

/// Whether a `client_id` is a URL the façade should treat as a metadata document.
pub fn is_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

impl CimdResolver {
    /// A resolver; `loopback` admits documents on this machine (development).
    pub fn new(loopback: Option<LoopbackDocuments>) -> Self {
        Self::with_capacity(loopback, MAX_CACHED)
    }

    /// A resolver caching at most `capacity` documents.
    pub fn with_capacity(loopback: Option<LoopbackDocuments>, capacity: u64) -> Self {
        Self {
            public: document_client(AddressPolicy::Public, Vec::new()),
            loopback: loopback.map(|l| document_client(AddressPolicy::Loopback, l.extra_roots)),
            cache: ExpiringCache::new(capacity),
        }
    }

    /// The client a metadata URL describes.
    pub async fn resolve(&self, client_id: &str) -> Result<Client, CimdError> {
        if let Some(answer) = self.cache.get(&client_id.to_owned()) {
            return answer;
        }
        // A URL refused before any fetch costs nothing to refuse again: not cached.
        let (url, policy, http) = self.vet_url(client_id)?;
        match fetch(http, &url, client_id).await {
            Ok((client, max_age)) => {
                if let Some(age) = max_age {
                    self.cache
                        .insert(client_id.to_owned(), Ok(client.clone()), age);
                }
                Ok(client)
            }
            Err(e) => {
                let e = without_network_detail(e, policy);
                self.cache
                    .insert(client_id.to_owned(), Err(e.clone()), FAILURE_CACHE);
                Err(e)
            }
        }
    }

    /// Checks the URL, and an IP-literal host's address (a name's addresses are vetted by the
    /// client's resolver); returns the client to fetch it with.
    fn vet_url(
        &self,
        client_id: &str,
    ) -> Result<(Url, AddressPolicy, &reqwest::Client), CimdError> {
        let url = Url::parse(client_id).map_err(|e| CimdError::BadUrl(e.to_string()))?;
        let bad = |why: &str| Err(CimdError::BadUrl(why.to_owned()));
        if url.fragment().is_some() || client_id.contains('#') {
            return bad("it has a fragment");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad("it has user information");
        }
        if url.path() == "/" || url.path().is_empty() {
            return bad("it has no path component");
        }
        if url.path().split('/').any(|seg| seg == "." || seg == "..")
            || client_id.contains("/./")
            || client_id.contains("/../")
        {
            return bad("it has dot segments");
        }
        let host = url
            .host_str()
            .ok_or_else(|| CimdError::BadUrl("it has no host".into()))?
            .to_owned();
        let (policy, http) = match (url.scheme(), &self.loopback) {
            ("http" | "https", Some(loopback)) if crate::endpoint::is_loopback_host(&url) => {
                (AddressPolicy::Loopback, loopback)
            }
            ("https", _) => (AddressPolicy::Public, &self.public),
            _ => return bad("it is not https"),
        };
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            policy.vet(&host, &[SocketAddr::new(ip, 0)])?;
        }
        Ok((url, policy, http))
    }
}

/// The resolver's refusal inside a failed request, if that is why it failed.
fn refused_by_resolver(e: &reqwest::Error) -> Option<CimdError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(refusal) = c.downcast_ref::<CimdError>() {
            return Some(refusal.clone());
        }
        cause = c.source();
    }
    None
}

/// A failed connection to a public host is told without its cause: "refused" next to "timed
/// out" would let anyone probe hosts and ports through this server. The cause goes to the log;
/// documents on this machine (development) keep it, as their developer needs it.
fn without_network_detail(e: CimdError, policy: AddressPolicy) -> CimdError {
    match (e, policy) {
        (CimdError::Fetch(detail), AddressPolicy::Public) => {
            tracing::info!(%detail, "a client metadata document could not be fetched");
            CimdError::Fetch("no answer from its host".into())
        }
        (e, _) => e,
    }
}

fn fetch_error(e: reqwest::Error) -> CimdError {
    if let Some(refusal) = refused_by_resolver(&e) {
        return refusal;
    }
    if e.is_timeout() {
        return CimdError::Fetch("timed out".into());
    }
    // reqwest's own message ("error sending request") hides why: the causes say it (refused,
    // reset, a certificate no trusted root issued), which is what the client's developer needs.
    let e = e.without_url();
    let mut why = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let said = c.to_string();
        if !why.ends_with(&said) {
            why = format!("{why}: {said}");
        }
        cause = c.source();
    }
    CimdError::Fetch(why)
}

async fn fetch(
    http: &reqwest::Client,
    url: &Url,
    client_id: &str,
) -> Result<(Client, Option<Duration>), CimdError> {
    let mut response = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(fetch_error)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(CimdError::Status(
            status.as_u16(),
            " (redirects are not followed)",
        ));
    }
    if status != reqwest::StatusCode::OK {
        return Err(CimdError::Status(status.as_u16(), ""));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if content_type != "application/json" && !content_type.ends_with("+json") {
        return Err(CimdError::NotJson(format!("content type {content_type:?}")));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(CimdError::TooLarge);
    }
    let max_age = cache_lifetime(
        response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let mut body = Vec::new();
    let deadline = tokio::time::Instant::now() + FETCH_TIMEOUT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| CimdError::Fetch("timed out".into()))?
            .map_err(fetch_error)?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(CimdError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let document: ClientMetadata =
        serde_json::from_slice(&body).map_err(|e| CimdError::NotJson(e.to_string()))?;
    Ok((validate(document, client_id)?, max_age))
}

fn validate(doc: ClientMetadata, client_id: &str) -> Result<Client, CimdError> {
    let accepted = doc
        .validate(Source::Document { url: client_id })
        .map_err(|refusal| CimdError::Invalid(refusal.description))?;
    Ok(Client {
        client_id: client_id.to_owned(),
        secret_sha256: None,
        auth_method: accepted.auth_method,
        redirect_uris: accepted.redirect_uris,
        client_name: accepted.client_name,
        grant_types: accepted.grant_types,
        origin: Origin::Cimd,
        issued_at: now_secs(),
    })
}

/// How long a document may be cached, from its Cache-Control; `None` for no-store.
fn cache_lifetime(cache_control: Option<&str>) -> Option<Duration> {
    let Some(cc) = cache_control else {
        return Some(DEFAULT_CACHE);
    };
    let directives: Vec<String> = cc
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    if directives
        .iter()
        .any(|d| d == "no-store" || d == "no-cache")
    {
        return None;
    }
    let max_age = directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age=")?.parse::<u64>().ok());
    Some(
        max_age
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_CACHE)
            .clamp(MIN_CACHE, MAX_CACHE),
    )
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, cloud metadata at 169.254.169.254 included
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18.0.0/15
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99.0/24 (deprecated)
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv4 hidden in IPv6 is judged as the IPv4 it carries.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x0064 && s[1] == 0xff9b {
        // NAT64 64:ff9b::/96
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        // 6to4 2002::/16 embeds an IPv4 address
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // ULA fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0 // documentation 3fff::/20
        // IETF protocol assignments 2001::/23: Teredo 2001::/32 (which tunnels to an IPv4
        // address the server cannot vet), benchmarking, ORCHID; no document is served there.
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || s[..4] == [0x0100, 0, 0, 0] // discard-only 100::/64
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64 64:ff9b:1::/48
        || s[..6] == [0, 0, 0, 0, 0xffff, 0] // SIIT ::ffff:0:a.b.c.d (::ffff:0:0/96)
        || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d and other ::/96
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            // SIIT (::ffff:0:0/96): 127.0.0.1 and 169.254.169.254 after translation.
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "::ffff:0:5db8:d822",
            // Teredo (2001::/32), whatever IPv4 address it hides.
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::1",
            "2001:2::1",
            "100::1",
            "64:ff9b:1::a00:1",
            "3fff::1",
            "192.88.99.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2001:4860:4860::8888",
            "2a00:1450::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn cache_lifetimes_are_bounded() {
        assert_eq!(cache_lifetime(None), Some(DEFAULT_CACHE));
        assert_eq!(cache_lifetime(Some("max-age=5")), Some(MIN_CACHE));
        assert_eq!(
            cache_lifetime(Some("public, max-age=600")),
            Some(Duration::from_secs(600))
        );
        assert_eq!(cache_lifetime(Some("max-age=99999999")), Some(MAX_CACHE));
        assert_eq!(cache_lifetime(Some("no-store")), None);
    }

    /// What the consent page would show is held to the rules of a registered client.
    #[test]
    fn a_document_is_held_to_the_rules_of_a_registration() {
        const URL: &str = "https://app.example.com/client.json";
        let check = |changes: serde_json::Value| {
            let mut doc = serde_json::json!({
                "client_id": URL,
                "client_name": "App",
                "redirect_uris": ["https://app.example.com/cb"],
            });
            for (k, v) in changes.as_object().unwrap() {
                doc[k] = v.clone();
            }
            validate(serde_json::from_value(doc).unwrap(), URL).map(|_| ())
        };
        assert!(check(serde_json::json!({})).is_ok());
        for name in [
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{0}b",
            "a\nb",
            &"x".repeat(201),
        ] {
            let refused = check(serde_json::json!({ "client_name": name }));
            assert!(
                matches!(&refused, Err(CimdError::Invalid(why)) if why.contains("client_name")),
                "{name:?}: {refused:?}"
            );
        }
        for other in [
            serde_json::json!({"response_types": ["token"]}),
            serde_json::json!({"grant_types": ["authorization_code", "implicit"]}),
        ] {
            assert!(check(other.clone()).is_err(), "{other}");
        }
    }

    #[test]
    fn a_public_host_that_does_not_answer_is_not_described() {
        let refused = || CimdError::Fetch("client error (Connect): Connection refused".into());
        let public = without_network_detail(refused(), AddressPolicy::Public).to_string();
        let timed_out = CimdError::Fetch("timed out".into());
        let timed_out = without_network_detail(timed_out, AddressPolicy::Public).to_string();
        assert_eq!(public, timed_out, "refused and timed out must read alike");
        assert!(!public.contains("refused"), "{public}");
        let local = without_network_detail(refused(), AddressPolicy::Loopback).to_string();
        assert!(local.contains("Connection refused"), "{local}");
    }

    #[test]
    fn a_development_ca_that_cannot_be_read_says_which_file_and_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        for path in [&missing, &not_pem] {
            let said = LoopbackDocuments::trusting(path).unwrap_err().to_string();
            assert!(said.contains(&path.display().to_string()), "{said}");
            assert!(
                said.contains("give a PEM file holding the CA certificate"),
                "{said}"
            );
        }
    }

    #[tokio::test]
    async fn urls_and_hosts_are_vetted_before_any_connection() {
        let strict = CimdResolver::new(None);
        for (url, expect) in [
            ("http://app.example.com/client.json", "not https"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/a/../client.json", "dot segments"),
            (
                "https://u:p@app.example.com/client.json",
                "user information",
            ),
            ("https://app.example.com/client.json#f", "fragment"),
            ("http://127.0.0.1:3003/client-metadata.json", "not https"),
        ] {
            let err = strict.resolve(url).await.unwrap_err().to_string();
            assert!(err.contains(expect), "{url}: {err}");
        }
        for url in [
            "https://127.0.0.1/client.json",
            "https://10.0.0.8/client.json",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/client.json",
            "https://[::ffff:127.0.0.1]/client.json",
            "https://[::ffff:169.254.169.254]/client.json",
            "https://100.64.1.1/client.json",
            "https://localhost/client.json",
        ] {
            let err = strict.resolve(url).await.unwrap_err();
            assert!(
                matches!(err, CimdError::ForbiddenAddress { .. }),
                "{url}: {err}"
            );
        }
    }
}
