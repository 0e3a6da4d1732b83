//! Target `rest_json`: the body of a REST request, read as every route's JSON body and checked
//! the way that route checks it (`weft_api_server::request_bodies`). A refusal is an error
//! value; nothing may panic.

use std::sync::OnceLock;
use weft_api_server::Config;
use weft_api_server::request_bodies::{BodyRoute, check};

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        use clap::Parser;
        Config::try_parse_from(["api-server"]).expect("the default configuration parses")
    })
}

pub fn rest_json(data: &[u8]) {
    for route in BodyRoute::ALL {
        let _ = check(route, data, config());
    }
}
