//! An axum service on tokio that stops well: the `winddown::http` layer, probes and server.
//!
//! ```text
//! cargo run --release --example axum --features full -- --help
//! ```
//!
//! Routes `/` (fast), `/slow?ms=N`, `/sse` (an event every 100 ms until the shutdown, then a
//! clean end), `/ws` (a WebSocket echo, axum's `WebSocket`), `/ws?firehose=1` (a WebSocket that
//! sends without pause and never reads), `/readyz`, `/livez`, `/status`. On SIGTERM or
//! Ctrl-C: `/readyz` says 503 for `--pre-stop` seconds while requests are still served, then
//! the listener closes, idle connections close, requests in flight finish, WebSockets get
//! Close 1001 from the server, and at `--drain-timeout` what is left is cut and named in the
//! report. The report and the connection counts go to stdout, progress to stderr, and the
//! exit code is the report's. With `--tls-cert PATH --tls-key PATH` the same routes are served
//! over HTTPS (each TLS handshake in its connection's task). With `--admin-port N` the probes
//! and `/status` are also served on a port of their own, open until the end of the shutdown
//! sequence (the main listener closes at the close); with `--agent-port`, it also answers
//! haproxy's agent check (`winddown::http::agent`). `examples/http_smol.rs` is the same on
//! smol.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use winddown::http::agent::Agent;
use winddown::http::Server;
use winddown::tokio::TokioRuntime;
use winddown::Shutdown;

#[path = "shared/output.rs"]
mod output;

#[path = "shared/http_app.rs"]
mod app;

use app::say;

const NAME: &str = "axum";

fn main() -> ExitCode {
    app::main(NAME, |args, shutdown| {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                say!("{NAME}: cannot start the runtime: {err}");
                return 71; // EX_OSERR
            }
        };
        let code = runtime.block_on(run(args, shutdown));
        // A connection the report gave up on may still be parked on a worker: it is dropped,
        // and the workers are given a second to stop, no more.
        runtime.shutdown_timeout(Duration::from_secs(1));
        code
    })
}

async fn run(args: app::Args, shutdown: Shutdown) -> u8 {
    let plan = match app::plan(NAME, &args, &shutdown) {
        Ok(plan) => plan,
        Err(err) => {
            say!("{NAME}: {err}");
            return 64;
        }
    };
    let tls = match app::tls(NAME, &args) {
        Ok(tls) => tls,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await {
        Ok(listener) => listener,
        Err(err) => {
            say!("{NAME}: cannot listen on port {}: {err}", args.port);
            return 69; // EX_UNAVAILABLE
        }
    };
    match listener.local_addr() {
        Ok(addr) => app::out(&format!("listening on {addr}")),
        Err(err) => {
            say!("{NAME}: {err}");
            return 71;
        }
    }
    if let Some(port) = args.agent_port {
        // haproxy's agent check, beside the HTTP one: `ready`, `drain`, `maint`.
        match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(agent) => {
                if let Ok(addr) = agent.local_addr() {
                    app::out(&format!("agent listening on {addr}"));
                }
                tokio::spawn(Agent::new(&shutdown).serve(agent));
            }
            Err(err) => {
                say!("{NAME}: cannot listen on agent port {port}: {err}");
                return 69;
            }
        }
    }
    let sleep: app::Sleep = Arc::new(|duration| Box::pin(tokio::time::sleep(duration)));
    let (router, layer) = app::router(&plan, sleep, args.layer, get(websocket));
    if let Some(port) = args.admin_port {
        let admin = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(admin) => admin,
            Err(err) => {
                say!("{NAME}: cannot listen on admin port {port}: {err}");
                return 69; // EX_UNAVAILABLE
            }
        };
        match admin.local_addr() {
            Ok(addr) => app::out(&format!("admin listening on {addr}")),
            Err(err) => {
                say!("{NAME}: {err}");
                return 71;
            }
        }
        // Probes and status on a port of their own, open until the sequence ends.
        let admin = Server::new(&plan, TokioRuntime::new())
            .serve_admin(admin, app::admin(&plan, layer.as_ref()));
        tokio::spawn(admin);
    }
    let report = app::serve(
        &plan,
        TokioRuntime::new(),
        &args,
        listener,
        tls,
        router,
        layer,
    )
    .await;
    app::finish(&report)
}

/// `/ws`: axum's WebSocket, an echo, or with `?firehose=1` a sender that never reads. Neither
/// does anything at the close: the server sends Close 1001 itself.
async fn websocket(upgrade: WebSocketUpgrade, uri: Uri) -> Response {
    let firehose = app::wants_firehose(&uri);
    upgrade.on_upgrade(move |socket| async move {
        if firehose {
            self::firehose(socket).await;
        } else {
            echo(socket).await;
        }
    })
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        // The library answers the peer's Close itself; the stream ends after it.
        let data = matches!(message, Message::Text(_) | Message::Binary(_));
        if data && socket.send(message).await.is_err() {
            return;
        }
    }
}

async fn firehose(mut socket: WebSocket) {
    let mut n = 0;
    loop {
        n += 1;
        let message = Message::text(app::firehose_message(n));
        if socket.send(message).await.is_err() {
            return;
        }
    }
}
