//! Who a request comes from: the TCP peer, or, when the peer is a trusted proxy, the client
//! address the proxy forwarded. Every per-client limit (REST rate limits, WebSocket connection
//! caps) keys on this one answer.
//!
//! Forwarding headers are read right to left: each proxy appends the address it received the
//! request from, so the rightmost entries are the ones the trusted proxies wrote. The client
//! is the first entry, from the right, that is not itself a trusted proxy; anything left of it
//! came from the client and is ignored, so a spoofed `X-Forwarded-For` changes nothing. From
//! an untrusted peer the headers are not read at all.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx `$proxy_add_x_forwarded_for`).
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    #[value(name = "forwarded")]
    Forwarded,
}

/// The address a request is counted under by per-client limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key per-client limits count under: an IPv4 address as it is, an IPv6 address by its
    /// /64 network (one subscriber usually holds a whole /64, so single addresses are free to
    /// rotate through).
    pub fn limit_key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        }
    }

    /// The client address the front door attached to a request, else its TCP peer (a router
    /// served some other way), else nothing.
    pub fn of(extensions: &Extensions) -> Option<ClientIp> {
        extensions.get::<ClientIp>().copied().or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| ClientIp(peer.ip().to_canonical()))
        })
    }
}

/// A request without a client address: the router is served by something other than
/// [`super::serve`] that attaches no peer address either. A server bug, answered 500.
#[derive(Debug, Clone, Copy)]
pub struct MissingClientIp;

impl IntoResponse for MissingClientIp {
    fn into_response(self) -> Response {
        tracing::error!(
            "a request without a client address: the router is not served by front::serve"
        );
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = MissingClientIp;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ClientIp::of(&parts.extensions).ok_or(MissingClientIp)
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

/// Entries read from the right of a forwarding header at most: a chain of trusted proxies is
/// never longer, and the header's size is bounded by the header budget anyway.
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>, header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies { nets, header }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientIp {
        let peer = peer.ip().to_canonical();
        if self.nets.is_empty() || !self.trusts(peer) {
            return ClientIp(peer);
        }
        let mut client = peer;
        for hop in self.hops(headers).into_iter().rev().take(MAX_HOPS) {
            // An entry that is no address (`unknown`, an obfuscated name, garbage) ends the
            // walk: nothing left of it can be attributed.
            let Some(ip) = hop else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        ClientIp(client)
    }

    /// Every entry of the configured header, in order (all its lines, left to right).
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => axum::http::header::FORWARDED,
        };
        let mut hops = Vec::new();
        for line in headers.get_all(name) {
            let Ok(line) = line.to_str() else {
                hops.push(None);
                continue;
            };
            for entry in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                hops.push(match self.header {
                    ForwardedHeader::XForwardedFor => parse_address(entry),
                    ForwardedHeader::Forwarded => {
                        forwarded_header_value::ForwardedStanza::from_str(entry)
                            .ok()
                            .and_then(|stanza| stanza.forwarded_for_ip())
                    }
                });
            }
        }
        hops
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`[::1]:80`, `10.0.0.1:80`).
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(nets: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(nets.iter().filter_map(|n| n.parse().ok()).collect(), header)
    }

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(name, HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn peer(s: &str) -> SocketAddr {
        SocketAddr::new(ip(s), 4000)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(
            p.client_ip(peer("192.0.2.1"), &h),
            ClientIp(ip("192.0.2.1"))
        );
        let none = proxies(&[], ForwardedHeader::XForwardedFor);
        assert_eq!(
            none.client_ip(peer("10.0.0.1"), &h),
            ClientIp(ip("10.0.0.1"))
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_entries_left_of_it_are_ignored() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["6.6.6.6, 1.2.3.4"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), ClientIp(ip("1.2.3.4")));
        // Two proxies: the inner one appended the outer one's address.
        let h = headers("x-forwarded-for", &["6.6.6.6", "1.2.3.4, 10.1.1.1"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), ClientIp(ip("1.2.3.4")));
        // Without the header, the proxy itself.
        assert_eq!(
            p.client_ip(peer("10.0.0.1"), &HeaderMap::new()),
            ClientIp(ip("10.0.0.1"))
        );
        // Garbage where the client should be: the last trusted hop.
        let h = headers("x-forwarded-for", &["1.2.3.4, nonsense"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), ClientIp(ip("10.0.0.1")));
        // Ports and IPv4-mapped IPv6.
        let h = headers("x-forwarded-for", &["[2001:db8::1]:443"]);
        assert_eq!(
            p.client_ip(peer("10.0.0.1"), &h),
            ClientIp(ip("2001:db8::1"))
        );
        let h = headers("x-forwarded-for", &["::ffff:1.2.3.4"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), ClientIp(ip("1.2.3.4")));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let p = proxies(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let mut h = headers(
            "forwarded",
            &["for=6.6.6.6, for=\"[2001:db8::7]:80\";proto=https"],
        );
        h.append("x-forwarded-for", HeaderValue::from_static("5.5.5.5"));
        assert_eq!(
            p.client_ip(peer("10.0.0.1"), &h),
            ClientIp(ip("2001:db8::7"))
        );
        let x = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(x.client_ip(peer("10.0.0.1"), &h), ClientIp(ip("5.5.5.5")));
        let unknown = headers("forwarded", &["for=1.2.3.4, for=unknown"]);
        assert_eq!(
            p.client_ip(peer("10.0.0.1"), &unknown),
            ClientIp(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a = ClientIp(ip("2001:db8:1:2:aaaa::1")).limit_key();
        let b = ClientIp(ip("2001:db8:1:2:bbbb::9")).limit_key();
        let c = ClientIp(ip("2001:db8:1:3::1")).limit_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(ClientIp(ip("1.2.3.4")).limit_key(), ip("1.2.3.4"));
    }
}
