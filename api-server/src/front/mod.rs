//! The HTTP front door: the one accept loop both servers (api-server, collab-server) serve
//! their routers through, in place of `axum::serve`, which bounds nothing before a request
//! arrives.
//!
//! What it adds (all in [`FrontConfig`]): a deadline for a request's headers that starts when
//! the connection is accepted (a client that trickles headers or sends nothing is closed, and
//! so is a keep-alive connection idle between requests), a byte budget for those headers (431,
//! then close), a cap on the connections open in the process (beyond it a new connection gets
//! a best-effort 503 and is closed at once), a deadline for each next piece of a request
//! body, TCP_NODELAY, WebSocket upgrades, graceful shutdown
//! as `axum::serve`'s, and the client's address: the TCP peer, or, when that peer is a trusted
//! proxy, the address the proxy forwarded ([`ClientIp`]). It knows nothing of REST or
//! WebSockets beyond the upgrade.

mod accept;
mod client_ip;
mod counted;

pub use accept::{FrontStats, serve};
pub use client_ip::{ClientIp, ForwardedHeader, MissingClientIp, TrustedProxies};

use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Duration;

/// How the front door treats connections; the same flags and variables for both servers.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct FrontConfig {
    /// Longest a client may take to send a request's headers, counted from the moment its
    /// connection is accepted (or its previous response was sent, on a kept-alive connection);
    /// then the connection is closed. Bounds slowloris clients and idle sockets.
    #[arg(long, env = "WEFT_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,

    /// Longest a request body may go without sending its next bytes while the server reads
    /// it; then the request is refused (408) and the connection closed. Bounds clients that
    /// announce a body and trickle it, or never send it. 0: no limit.
    #[arg(long, env = "WEFT_BODY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,

    /// Largest request head (request line and headers, bytes); a larger one is answered 431 and
    /// the connection closed.
    #[arg(long, env = "WEFT_MAX_HEADER_BYTES", default_value_t = DEFAULT_MAX_HEADER_BYTES)]
    pub max_header_bytes: usize,

    /// Connections open at once in this process (HTTP and upgraded WebSockets); beyond it a new
    /// connection is answered 503 and closed. 0: no cap.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Proxies whose forwarded client address is believed, comma-separated (CIDRs or single
    /// addresses, e.g. `10.0.0.0/8,192.168.1.7`). From any other peer the forwarding headers
    /// are ignored.
    #[arg(long, env = "WEFT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// The header trusted proxies name the client in: `x-forwarded-for` or `forwarded`
    /// (RFC 7239). Only that one is read, so a client cannot slip an address past a proxy that
    /// appends to the other.
    #[arg(
        long,
        env = "WEFT_FORWARDED_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: ForwardedHeader,
}

/// Default of [`FrontConfig::max_header_bytes`]: 16 KiB, twice what a browser sends with a
/// large cookie jar, and several times a WebSocket upgrade with a token in its query.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// Default of [`FrontConfig::max_connections`]: above the 10,000 connections of the
/// loadtest benchmarks, below common file-descriptor limits of a server.
pub const DEFAULT_MAX_CONNECTIONS: usize = 25_000;

impl Default for FrontConfig {
    /// The defaults, as if no flag or variable were given.
    fn default() -> Self {
        FrontConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
        }
    }
}

impl FrontConfig {
    /// How client addresses are read from requests under this configuration.
    pub fn proxies(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.clone(), self.forwarded_header)
    }
}

/// A CIDR (`10.0.0.0/8`) or a single address (`10.0.0.7`, taken as /32 or /128).
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither a CIDR (10.0.0.0/8) nor an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        front: FrontConfig,
    }

    #[test]
    fn default_is_what_clap_parses_without_flags() {
        let parsed = Cli::try_parse_from(["x"]).map(|c| c.front);
        assert_eq!(parsed.ok(), Some(FrontConfig::default()));
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_single_addresses() {
        let cli = Cli::try_parse_from(["x", "--trusted-proxies", "10.0.0.0/8, 192.168.1.7,::1"])
            .map(|c| c.front.trusted_proxies);
        let want: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(cli.ok(), Some(want));
        assert!(Cli::try_parse_from(["x", "--trusted-proxies", "nginx"]).is_err());
    }
}
