//! Who a request comes from, as far as per-address limits are concerned.
//!
//! By default that is the TCP peer, and `X-Forwarded-For` / `Forwarded` are ignored: anyone can
//! write them, so believing them would let one client pose as many and escape every limit. Behind
//! a reverse proxy every request has the proxy's address, so the operator names the proxies
//! (`--trusted-proxy CIDR`); only from those peers is the forwarded chain read, right to left,
//! and the first address that is not itself a trusted proxy is the client (the right-most
//! untrusted hop: everything left of it was written by the client and proves nothing).
//!
//! Limits key on an [`AddressKey`]: an IPv4 address, or an IPv6 address's /64 network. One
//! host is routinely given a whole /64 (SLAAC, privacy addresses), so per-/128 limits would let
//! it take 2^64 allowances. One customer is as routinely given a /56 or a /48 (RIPE-690's advice
//! for homes and sites), 256 or 65,536 /64s, so an IPv6 address also counts in its /56 and /48
//! ([`AddressKey::counted_in`]): each limit says how much of its allowance those wider networks get.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, StatusCode, request::Parts};
use ipnet::IpNet;

/// The header a trusted proxy writes the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de facto standard).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => HeaderName::from_static("forwarded"),
        }
    }
}

/// A trusted-proxy setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyConfigError {
    /// Not an address or a network.
    #[error(
        "--trusted-proxy {0:?} is not an IP address or network: write one such as 10.0.0.0/8, \
         192.0.2.7 or 2001:db8::/32"
    )]
    NotANetwork(String),
    /// A network that contains every address: every peer could then forge its address.
    #[error(
        "--trusted-proxy {0} trusts every address, so any client could write its own \
         X-Forwarded-For and escape the per-address limits: name your proxies' networks only"
    )]
    Everything(IpNet),
    /// Networks that each leave something out but together contain every address.
    #[error(
        "--trusted-proxy {0} together trust every address, so any client could write its own \
         X-Forwarded-For and escape the per-address limits: name your proxies' networks only"
    )]
    EverythingTogether(String),
    /// An unknown header name.
    #[error(
        "--forwarded-header {0:?} is not one this server reads: write x-forwarded-for or forwarded"
    )]
    UnknownHeader(String),
}

impl std::fmt::Display for ForwardedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name().as_str())
    }
}

impl std::str::FromStr for ForwardedHeader {
    type Err = ProxyConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(ProxyConfigError::UnknownHeader(s.to_owned())),
        }
    }
}

/// The reverse proxies whose forwarded addresses are believed, and the header they write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No proxy is trusted: the TCP peer is the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `--trusted-proxy` values (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`).
    pub fn parse<S: AsRef<str>>(
        values: &[S],
        header: ForwardedHeader,
    ) -> Result<Self, ProxyConfigError> {
        let networks = values
            .iter()
            .map(|v| parse_network(v.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()?;
        // `0.0.0.0/1` and `128.0.0.0/1` are as open as `0.0.0.0/0`: merged, they are it.
        if IpNet::aggregate(&networks)
            .iter()
            .any(|n| n.prefix_len() == 0)
        {
            let named: Vec<String> = values
                .iter()
                .map(|v| v.as_ref().trim().to_owned())
                .collect();
            return Err(ProxyConfigError::EverythingTogether(named.join(", ")));
        }
        Ok(Self { networks, header })
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|n| n.contains(&ip))
    }

    /// The client a request from `peer` with `headers` comes from.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> ClientAddress {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return ClientAddress(peer);
        }
        // All values of the header, in order, as one list: a proxy may append its own line.
        let hops: Vec<Option<IpAddr>> = headers
            .get_all(self.header.name())
            .iter()
            // Split before decoding: a hop that is not text spoils itself only, not the hops a
            // proxy appended to the same line (nginx's `$proxy_add_x_forwarded_for` does).
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(|hop| std::str::from_utf8(hop).unwrap_or("\u{0}"))
            .map(|hop| match self.header {
                ForwardedHeader::XForwardedFor => parse_hop(hop),
                ForwardedHeader::Forwarded => forwarded_for(hop).and_then(parse_hop),
            })
            .collect();
        // Right to left, through the hops trusted proxies wrote, to the first one they did not.
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop.map(canonical) {
                Some(hop) if self.trusts(hop) => client = hop,
                Some(hop) => return ClientAddress(hop),
                // Not an address (`unknown`, an obfuscated identifier, garbage): the chain
                // cannot be followed past it, so the last trusted hop is as far as it goes.
                None => break,
            }
        }
        ClientAddress(client)
    }
}

fn parse_network(value: &str) -> Result<IpNet, ProxyConfigError> {
    let network = value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| ProxyConfigError::NotANetwork(value.to_owned()))?
        .trunc();
    // Peers are compared as IPv4 when they are v4-mapped (`canonical`): so are the networks.
    let network = match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
                .map_err(|_| ProxyConfigError::NotANetwork(value.to_owned()))?,
            None => network,
        },
        other => other,
    };
    if network.prefix_len() == 0 {
        return Err(ProxyConfigError::Everything(network));
    }
    Ok(network)
}

/// One hop: an address, with or without a port (`[::1]:80`, `192.0.2.1:80`), maybe quoted.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    // `[2001:db8::1]` without a port.
    hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// The `for=` parameter of one RFC 7239 element (`for=192.0.2.1;proto=https`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is the
/// IPv4 address it maps, so both spellings share one allowance.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a request comes from: the peer, or the client a trusted proxy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(IpAddr);

impl ClientAddress {
    /// The peer itself, when no proxy is involved.
    pub fn direct(peer: IpAddr) -> Self {
        Self(canonical(peer))
    }

    /// The address.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

/// The request's client address, as the accept loop resolved it; from the socket peer when the
/// router is served some other way (`axum::serve` with connect info).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<ClientAddress>() {
            return Ok(*client);
        }
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|peer| ClientAddress::direct(peer.0.ip()))
            .ok_or((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server was started without its accept loop: no client address",
            ))
    }
}

/// What per-address limits count: an IPv4 address, or one network an IPv6 address is in (its
/// /64, /56 or /48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddressKey(IpNet);

/// How wide a network an [`AddressKey`] names, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Breadth {
    /// An IPv4 address or an IPv6 /64: one host.
    Host,
    /// An IPv6 /56: one home's usual delegation, 256 /64s.
    Home,
    /// An IPv6 /48: one site's usual delegation, 65,536 /64s.
    Site,
}

impl Breadth {
    /// The networks an address counts in, narrowest first: their breadth and prefix length.
    fn prefixes(ip: IpAddr) -> &'static [(Breadth, u8)] {
        match ip {
            IpAddr::V4(_) => &[(Breadth::Host, 32)],
            IpAddr::V6(_) => &[
                (Breadth::Host, 64),
                (Breadth::Home, 56),
                (Breadth::Site, 48),
            ],
        }
    }
}

impl AddressKey {
    /// The narrowest key of `ip`: the address itself for IPv4, its /64 for IPv6.
    pub fn of(ip: IpAddr) -> Self {
        let ip = canonical(ip);
        let host = Breadth::prefixes(ip).first().map_or(128, |(_, len)| *len);
        Self::network(ip, host)
    }

    /// Every key `ip` counts in, narrowest first, with its breadth: one for IPv4, three for IPv6.
    pub fn counted_in(ip: IpAddr) -> impl Iterator<Item = (Breadth, AddressKey)> {
        let ip = canonical(ip);
        Breadth::prefixes(ip)
            .iter()
            .map(move |&(breadth, len)| (breadth, Self::network(ip, len)))
    }

    fn network(ip: IpAddr, prefix_len: u8) -> Self {
        // In range by construction: 32 for IPv4, at most 64 for IPv6.
        Self(IpNet::new(ip, prefix_len).map_or(IpNet::from(ip), |n| n.trunc()))
    }
}

impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpNet::V4(v4) => write!(f, "{}", v4.addr()),
            v6 => write!(f, "{v6}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(nets, ForwardedHeader::XForwardedFor).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=1.2.3.4"),
        ]);
        let client = TrustedProxies::none().client_of(ip("198.51.100.1"), &h);
        assert_eq!(client.ip(), ip("198.51.100.1"));
    }

    #[test]
    fn from_an_untrusted_peer_the_headers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(p.client_of(ip("198.51.100.1"), &h).ip(), ip("198.51.100.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        // The client wrote "1.1.1.1" itself; its proxy appended the real address, 203.0.113.9.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("203.0.113.9"));
        // Several header lines read as one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:4711"),
        ]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("203.0.113.9"));
    }

    #[test]
    fn garbage_in_the_chain_makes_the_proxy_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        for value in ["unknown", "203.0.113.9, <script>", "", "203.0.113.9,,"] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(
                p.client_of(ip("10.0.0.1"), &h).ip(),
                ip("10.0.0.1"),
                "{value}"
            );
        }
        // Garbage the client wrote left of its proxy's hop changes nothing.
        let h = headers(&[(
            "x-forwarded-for",
            "<script>, unknown, 203.0.113.9, 10.0.0.3",
        )]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("203.0.113.9"));
        // Past garbage right of a trusted hop, the trusted hop is the client.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, junk, 10.0.0.3")]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("10.0.0.3"));
        // No header at all: the proxy.
        assert_eq!(
            p.client_of(ip("10.0.0.1"), &HeaderMap::new()).ip(),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_chain_of_trusted_hops_ends_at_its_left_most() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_is_read_only_when_chosen() {
        let h = headers(&[
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8::7]:443\";proto=https",
            ),
            ("x-forwarded-for", "198.51.100.50"),
        ]);
        let p = TrustedProxies::parse(&["10.0.0.0/8"], ForwardedHeader::Forwarded).unwrap();
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("2001:db8::7"));
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_of(ip("10.0.0.1"), &h).ip(),
            ip("198.51.100.50")
        );
    }

    #[test]
    fn a_hop_that_is_not_text_spoils_only_itself() {
        let p = proxies(&["10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff, 203.0.113.9").unwrap(),
        );
        assert_eq!(p.client_of(ip("10.0.0.1"), &h).ip(), ip("203.0.113.9"));
    }

    #[test]
    fn a_v4_mapped_proxy_network_matches_v4_peers() {
        let p = proxies(&["::ffff:10.0.0.0/104"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(p.client_of(ip("10.1.2.3"), &h).ip(), ip("203.0.113.9"));
        assert_eq!(
            p.client_of(ip("::ffff:10.1.2.3"), &h).ip(),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let p = proxies(&["10.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(
            p.client_of(ip("::ffff:10.0.0.1"), &h).ip(),
            ip("203.0.113.9")
        );
        assert_eq!(
            AddressKey::of(ip("::ffff:203.0.113.9")),
            AddressKey::of(ip("203.0.113.9"))
        );
    }

    #[test]
    fn ipv6_counts_in_its_64_56_and_48() {
        let keys: Vec<String> = AddressKey::counted_in(ip("2001:db8:1:2:aaaa::1"))
            .map(|(_, k)| k.to_string())
            .collect();
        assert_eq!(
            keys,
            ["2001:db8:1:2::/64", "2001:db8:1::/56", "2001:db8:1::/48"]
        );
        // The /64 and the /56 of an address whose bits 56-63 are zero are still two keys.
        let same_bits: Vec<AddressKey> = AddressKey::counted_in(ip("2001:db8:1:100::1"))
            .map(|(_, k)| k)
            .collect();
        assert_ne!(same_bits[0], same_bits[1]);
        let v4: Vec<(Breadth, String)> = AddressKey::counted_in(ip("::ffff:192.0.2.1"))
            .map(|(b, k)| (b, k.to_string()))
            .collect();
        assert_eq!(v4, [(Breadth::Host, "192.0.2.1".to_owned())]);
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let a = AddressKey::of(ip("2001:db8:1:2:aaaa::1"));
        let b = AddressKey::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let c = AddressKey::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_ne!(
            AddressKey::of(ip("192.0.2.1")),
            AddressKey::of(ip("192.0.2.2"))
        );
    }

    #[test]
    fn bad_settings_say_what_to_write() {
        let e =
            TrustedProxies::parse(&["10.0.0.0/33"], ForwardedHeader::XForwardedFor).unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
        let e = TrustedProxies::parse(
            &["0.0.0.0/1", "128.0.0.0/1"],
            ForwardedHeader::XForwardedFor,
        )
        .unwrap_err();
        assert!(matches!(e, ProxyConfigError::EverythingTogether(_)), "{e}");
        let halves = ["::/1", "8000::/2", "c000::/2", "10.0.0.0/8"];
        let e = TrustedProxies::parse(&halves, ForwardedHeader::XForwardedFor).unwrap_err();
        assert!(e.to_string().contains("::/1, 8000::/2"), "{e}");
        assert!(
            TrustedProxies::parse(&["::/1", "10.0.0.0/8"], ForwardedHeader::XForwardedFor).is_ok()
        );
        let e = TrustedProxies::parse(&["0.0.0.0/0"], ForwardedHeader::XForwardedFor).unwrap_err();
        assert!(matches!(e, ProxyConfigError::Everything(_)), "{e}");
        let e = "x-real-ip".parse::<ForwardedHeader>().unwrap_err();
        assert!(e.to_string().contains("x-forwarded-for"), "{e}");
        assert!(TrustedProxies::parse(&[" 192.0.2.7 "], ForwardedHeader::Forwarded).is_ok());
    }
}
