//! Flags and defaults of the api-server configuration.

use clap::Parser;
use std::net::SocketAddr;
use weft_api_server::Config;

#[test]
fn listen_defaults_to_loopback_3001() {
    if std::env::var_os("API_LISTEN").is_some() {
        return; // the environment overrides the default on purpose
    }
    let config = Config::try_parse_from(["api-server"]).unwrap();
    assert_eq!(
        config.listen,
        "127.0.0.1:3001".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn listen_flag_overrides_the_default() {
    let config = Config::try_parse_from(["api-server", "--listen", "0.0.0.0:8080"]).unwrap();
    assert_eq!(config.listen, "0.0.0.0:8080".parse::<SocketAddr>().unwrap());
}

#[test]
fn listen_rejects_a_non_address() {
    assert!(Config::try_parse_from(["api-server", "--listen", "not-an-address"]).is_err());
}
