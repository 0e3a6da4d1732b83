//! The `collab-server` binary: serve (the default) or mint a token.
//!
//! Serving is the one-process default: the collab tier at `/ws`, and the REST tier at `/api`
//! on the same port, sharing the node's database, its bus and its key pair, so tokens the REST
//! tier mints open documents here. `--no-rest` serves the collab tier alone (for deployments
//! that run api-server separately).

use clap::{Parser, Subcommand};
use weft_collab_server::keys::Keys;
use weft_collab_server::server::{open_backends, run_with};
use weft_collab_server::{Config, run};
use weft_protocol::{CollabClaims, Permission};

#[derive(Debug, Parser)]
#[command(
    name = "collab-server",
    version,
    about = "Weft collab-server: y-websocket compatible Yjs document server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
    /// Serve only the collab tier, without the REST routes under `/api`.
    #[arg(long, env = "COLLAB_NO_REST")]
    no_rest: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a collab token for DOC (and nothing else on stdout), signed with the configured
    /// private key (generated into the data folder on first use).
    Token {
        /// The document the token opens.
        doc: String,
        /// Grant read-only access instead of write access.
        #[arg(long)]
        read_only: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Subject (user id) to put in the token.
        #[arg(long, default_value = "cli")]
        sub: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token {
            doc,
            read_only,
            ttl,
            sub,
        }) => {
            weft_collab_server::doc_name::validate(&doc)?;
            let keys = Keys::load(&cli.config.keys)?;
            let perm = if read_only {
                Permission::Read
            } else {
                Permission::Write
            };
            let token = keys
                .issuer()?
                .sign(&CollabClaims::new(sub, doc, perm, ttl))?;
            println!("{token}");
            Ok(())
        }
        None => {
            let listener = bind(cli.config.listen)?;
            let addr = listener.local_addr()?;
            println!("Weft collab-server listening on http://{addr}");
            println!("  WebSocket endpoint: ws://{addr}/ws/<doc>?token=<token>");
            println!("  chat socket:        ws://{addr}/chat?token=<access token>");
            println!("  mint a token:       cargo run --release -- token <doc>");
            if cli.no_rest {
                run(listener, cli.config, shutdown_signal()).await?;
                return Ok(());
            }
            println!("  REST API:           http://{addr}/api (docs at /api/docs)");
            let backends = open_backends(&cli.config, addr).await?;
            let api = weft_api_server::state_with(
                rest_config(&cli.config, addr)?,
                backends.storage.db.clone(),
                backends.storage.docs.clone(),
                backends.bus.clone(),
                backends.storage.blobs.store(),
            )?;
            let stop_workers = tokio_util::sync::CancellationToken::new();
            let sweeper = weft_api_server::files::spawn_upload_sweeper(&api, stop_workers.clone());
            let webhooks =
                weft_api_server::webhooks::spawn_delivery_worker(&api, stop_workers.clone());
            let jobs = tokio_util::sync::CancellationToken::new();
            let imports = weft_api_server::imports::spawn_import_worker(&api, jobs.clone());
            let stop_jobs = jobs.drop_guard();
            let rest = weft_api_server::router(api);
            let served = run_with(listener, cli.config, backends, rest, shutdown_signal()).await;
            stop_workers.cancel();
            drop(stop_jobs);
            let _ = sweeper.await;
            let _ = webhooks.await;
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), imports).await;
            served?;
            Ok(())
        }
    }
}

/// The REST tier's configuration inside this process: its own variables (`API_*`) from the
/// environment, and everything it shares with the collab tier taken from the node's config.
fn rest_config(
    node: &Config,
    addr: std::net::SocketAddr,
) -> anyhow::Result<weft_api_server::Config> {
    let mut rest = weft_api_server::Config::try_parse_from(["collab-server"])?;
    rest.listen = addr;
    rest.data_dir = node.keys.data_dir.clone();
    rest.database_url = node.database_url.clone();
    rest.blob_url = node.blob_url.clone();
    rest.public_url = node.public_url.clone();
    rest.redis_url = node.redis_url.clone();
    rest.bus_prefix = node.bus_prefix.clone();
    rest.max_document_bytes = node.max_document_bytes;
    rest.collab_private_key_file = node.keys.private_key_file.clone();
    // The chat socket verifies the access tokens the REST tier signs: one secret for both.
    rest.jwt_secret_file = node.jwt_secret_file.clone();
    if std::env::var_os("COLLAB_PUBLIC_URL").is_none() {
        rest.collab_url = match &node.public_url {
            Some(base) => format!(
                "{}/ws",
                base.trim_end_matches('/')
                    .replacen("https://", "wss://", 1)
                    .replacen("http://", "ws://", 1)
            ),
            None => format!("ws://{addr}/ws"),
        };
    }
    Ok(rest)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Binds with a listen backlog of 4096 (the kernel caps it at `somaxconn`): a join storm of
/// thousands of clients would overflow tokio's default of 1024 and cost the overflow's clients
/// a one-second SYN retransmission.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
