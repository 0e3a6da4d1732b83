//! The three servers `compare` drives, started through `peers::start` and spoken to through each
//! one's framing: two clients sync, one edits, the other converges, then the server stops.
//! Proves the process handling and both framings against the real servers, not just our codecs.

use futures_util::{SinkExt, StreamExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use weft_loadtest::peers::{self, PeerOptions, RunningServer, ServerKind};
use weft_loadtest::wire::{Event, Framing};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, Update};

const STEP: Duration = Duration::from_secs(15);
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);

/// A bare-bones editor: one socket, one framing, one yrs document.
struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    framing: Box<dyn Framing>,
    name: String,
    doc: Doc,
    text: TextRef,
    synced: bool,
    authenticated: bool,
}

impl Client {
    async fn connect(server: &RunningServer, name: &str, client_id: u64) -> Client {
        let framing = server.protocol.framing();
        let url = framing.url(&server.url_template, name, None);
        let (ws, _) = tokio::time::timeout(STEP, connect_async(url.as_str()))
            .await
            .unwrap_or_else(|_| panic!("connecting to {url} timed out"))
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        let doc = Doc::with_client_id(client_id);
        let text = doc.get_or_insert_text("content");
        let mut client = Client {
            ws,
            framing,
            name: name.to_owned(),
            doc,
            text,
            synced: false,
            authenticated: false,
        };
        let sv = client.doc.transact().state_vector();
        for frame in client.framing.open(name, None, &sv) {
            client.send(frame).await;
        }
        client
    }

    async fn send(&mut self, frame: Vec<u8>) {
        tokio::time::timeout(STEP, self.ws.send(Ws::binary(frame)))
            .await
            .expect("send timed out")
            .unwrap();
    }

    /// Reads and handles one frame.
    async fn pump(&mut self) {
        let msg = tokio::time::timeout(STEP, self.ws.next())
            .await
            .expect("no frame from the server in time")
            .expect("the server closed the socket")
            .unwrap();
        let frame = match msg {
            Ws::Binary(b) => b,
            Ws::Close(c) => panic!("the server closed the socket: {c:?}"),
            _ => return, // pings are answered by tungstenite
        };
        for event in self.framing.decode(&self.name, &frame).unwrap() {
            match event {
                Event::SyncStep1(sv) => {
                    let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                    let reply = self.framing.sync_step2(&self.name, diff);
                    self.send(reply).await;
                }
                Event::SyncStep2(update) => {
                    self.apply(&update);
                    self.synced = true;
                }
                Event::Update(update) => self.apply(&update),
                Event::Authenticated => self.authenticated = true,
                Event::Denied(reason) => panic!("refused: {reason}"),
                Event::Ignored { reply: Some(frame) } => self.send(frame).await,
                Event::Awareness | Event::Ignored { reply: None } => {}
            }
        }
    }

    fn apply(&self, update: &[u8]) {
        let update = Update::decode_v1(update).unwrap();
        self.doc.transact_mut().apply_update(update).unwrap();
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Client) -> bool) {
        tokio::time::timeout(STEP, async {
            while !done(self) {
                self.pump().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// Inserts `s` at the end of the text and sends the update a Yjs client would broadcast.
    async fn type_text(&mut self, s: &str) {
        let before: StateVector = self.doc.transact().state_vector();
        {
            let mut txn = self.doc.transact_mut();
            let len = self.text.len(&txn);
            self.text.insert(&mut txn, len, s);
        }
        let update = self.doc.transact().encode_state_as_update_v1(&before);
        let frame = self.framing.update(&self.name, update);
        self.send(frame).await;
    }

    fn content(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }
}

/// The `collab-server` binary of this build (`target/<profile>/collab-server`). `cargo test
/// --workspace` builds it for collab-server's own tests; when it is missing or older than the
/// sources it is built from (e.g. `cargo test -p weft-loadtest` after editing collab-server), it
/// is built here with the same cargo, profile and target folder. Not rebuilt when fresh: a
/// `-p weft-collab-server` build resolves features differently from a workspace build and would
/// recompile much of the dependency tree for nothing.
async fn weft_bin() -> PathBuf {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let bin = peers::default_weft_bin();
            if is_fresh(&bin) {
                return bin;
            }
            match build_collab_server(&bin).await {
                Ok(()) => {}
                Err(e) if bin.is_file() => {
                    eprintln!("using the existing, possibly stale {}: {e}", bin.display());
                }
                Err(e) => panic!("no collab-server binary at {}: {e}", bin.display()),
            }
            assert!(bin.is_file(), "{} missing after the build", bin.display());
            bin
        })
        .await
        .clone()
}

/// Whether `bin` exists and is newer than every source of the crates it is built from.
fn is_fresh(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut visit = vec![root.join("Cargo.lock"), root.join("Cargo.toml")];
    for krate in ["protocol", "storage", "collab-server"] {
        visit.push(root.join(krate).join("Cargo.toml"));
        visit.push(root.join(krate).join("src"));
        visit.push(root.join(krate).join("migrations"));
    }
    while let Some(path) = visit.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                visit.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
    }
    built >= newest
}

async fn build_collab_server(bin: &Path) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").ok_or("not run by cargo (CARGO unset)")?;
    let profile_dir = bin.parent().ok_or("binary path has no folder")?;
    let target_dir = profile_dir.parent().ok_or("no target folder")?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("no profile folder")?;
    let mut cmd = tokio::process::Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "weft-collab-server",
        "--bin",
        "collab-server",
    ])
    .arg("--target-dir")
    .arg(target_dir)
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .kill_on_drop(true);
    // Cargo sets these for this test process only; inherited, they would look like a changed
    // environment to build scripts that watch them (ring's watches CARGO_MANIFEST_DIR) and
    // rebuild half the dependency tree on every run, for this build and the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            )
        {
            cmd.env_remove(name);
        }
    }
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = tokio::time::timeout(BUILD_TIMEOUT, cmd.status())
        .await
        .map_err(|_| "cargo build timed out".to_owned())?
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build failed: {status}"))
    }
}

async fn options(kind: ServerKind) -> PeerOptions {
    let peers_dir = peers::default_peers_dir();
    let weft_bin = match kind {
        ServerKind::Weft => weft_bin().await,
        ServerKind::YWebsocket | ServerKind::Hocuspocus => {
            peers::ensure_npm_installed(&peers_dir).await.unwrap();
            peers::default_weft_bin()
        }
    };
    PeerOptions {
        peers_dir,
        weft_bin,
    }
}

async fn two_clients_converge(kind: ServerKind) {
    let opts = options(kind).await;
    let server = peers::start(kind, &opts).await.unwrap();
    assert_eq!(server.kind, kind);
    assert_eq!(server.protocol, kind.protocol());
    assert!(server.addr.ip().is_loopback());

    let doc = format!("peers-{}", kind.name());
    let mut a = Client::connect(&server, &doc, 1).await;
    a.until("A's sync", |c| c.synced).await;
    let mut b = Client::connect(&server, &doc, 2).await;
    b.until("B's sync", |c| c.synced).await;
    if kind == ServerKind::Hocuspocus {
        assert!(a.authenticated && b.authenticated);
    }

    a.type_text("hello from A").await;
    b.until("A's text at B", |c| c.content() == "hello from A")
        .await;
    b.type_text(", hi from B").await;
    let want = "hello from A, hi from B";
    a.until("B's text at A", |c| c.content() == want).await;
    assert_eq!(b.content(), want);

    // A late joiner gets everything in its initial sync.
    let mut c = Client::connect(&server, &doc, 3).await;
    c.until("C's sync", |c| c.synced && c.content() == want)
        .await;

    drop((a, b, c));
    let log = server.log_tail();
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("stop timed out")
        .unwrap_or_else(|e| panic!("stopping {kind}: {e}; log:\n{log}"));
}

#[tokio::test]
async fn weft_relays_between_two_clients() {
    two_clients_converge(ServerKind::Weft).await;
}

#[tokio::test]
async fn y_websocket_reference_server_relays_between_two_clients() {
    two_clients_converge(ServerKind::YWebsocket).await;
}

#[tokio::test]
async fn hocuspocus_relays_between_two_clients() {
    two_clients_converge(ServerKind::Hocuspocus).await;
}

#[tokio::test]
async fn stop_ends_the_process() {
    let opts = options(ServerKind::YWebsocket).await;
    let server = peers::start(ServerKind::YWebsocket, &opts).await.unwrap();
    let pid = server.pid;
    let addr = server.addr;
    server.stop().await.unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || TcpStream::connect(addr).await.is_err(),
        "pid {pid} still serves {addr}"
    );
}
