//! Test support: a server started through `run` on port 0, a y-websocket client on yrs, the
//! databases persistence tests run against, a TCP proxy that can cut the database off, and a
//! private Redis with the nodes of a multi-node cluster around it.

pub mod client;
pub mod cluster;
pub mod db;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod server;

pub use client::Client;
pub use server::TestServer;

/// The room's test hook (one per process, so every test that needs it installs this one):
/// "yrs" panics on an update holding `PANIC`, for a client's update in documents named
/// `poison-*` and, once per process (later bus updates, say a resync reply carrying the same
/// text, apply normally), for another node's update in documents named `poison-bus-*`.
pub fn install_panic_hook() {
    fn panic_on_marker(doc: &str, update: &[u8], from_bus: bool) {
        static BUS_FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let marked = update.windows(5).any(|w| w == b"PANIC");
        let poisoned = if doc.starts_with("poison-bus-") {
            from_bus && marked && !BUS_FIRED.swap(true, std::sync::atomic::Ordering::SeqCst)
        } else {
            doc.starts_with("poison-") && !from_bus
        };
        if marked && poisoned {
            panic!("injected yrs panic");
        }
    }
    weft_collab_server::room::set_apply_hook(panic_on_marker);
}
