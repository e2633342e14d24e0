//! The service of `examples/axum.rs` on smol: the same axum router, flags, output and exit
//! codes, served by `winddown::http::smol` (hyper on smol's executor and async-io). Its `/ws`
//! is async-tungstenite on the upgraded socket (axum's `WebSocket` needs tokio); HTTPS with
//! `--tls-cert` and `--tls-key` as there.
//!
//! ```text
//! cargo run --release --example http_smol --features full -- --help
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Response, StatusCode};
use axum::routing::get;
use smol::net::TcpListener;
use smol::stream::StreamExt;
use winddown::http::agent::Agent;
use winddown::http::server::FuturesIo;
use winddown::http::Server;
use winddown::smol::SmolRuntime;
use winddown::Shutdown;

#[path = "shared/output.rs"]
mod output;

#[path = "shared/http_app.rs"]
mod app;

use app::say;

const NAME: &str = "http_smol";

fn main() -> ExitCode {
    // smol's executor threads stop with the process; nothing here waits for them.
    app::main(NAME, |args, shutdown| smol::block_on(run(args, shutdown)))
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
                smol::spawn(Agent::new(&shutdown).serve(agent)).detach();
            }
            Err(err) => {
                say!("{NAME}: cannot listen on agent port {port}: {err}");
                return 69;
            }
        }
    }
    let sleep: app::Sleep = Arc::new(|duration| {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    });
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
        let admin = Server::new(&plan, SmolRuntime::new())
            .serve_admin(admin, app::admin(&plan, layer.as_ref()));
        smol::spawn(admin).detach();
    }
    let report = app::serve(
        &plan,
        SmolRuntime::new(),
        &args,
        listener,
        tls,
        router,
        layer,
    )
    .await;
    app::finish(&report)
}

/// `/ws`: the opening handshake's answer (`101`), and the handler on the upgraded socket: an
/// echo, or with `?firehose=1` a sender that never reads. Neither does anything at the close:
/// the server sends Close 1001 itself.
async fn websocket(mut request: Request) -> Response<Body> {
    let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
        let mut refused = Response::new(Body::from("a WebSocket handshake\n"));
        *refused.status_mut() = StatusCode::BAD_REQUEST;
        return refused;
    };
    let firehose = app::wants_firehose(request.uri());
    let on_upgrade = hyper::upgrade::on(&mut request);
    smol::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket = FuturesIo::new(upgraded);
        let socket = WebSocketStream::from_raw_socket(socket, Role::Server, None).await;
        if firehose {
            self::firehose(socket).await;
        } else {
            echo(socket).await;
        }
    })
    .detach();
    let mut switching = Response::new(Body::empty());
    *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = switching.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    headers.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    if let Ok(accept) = derive_accept_key(key.as_bytes()).parse() {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    switching
}

type Socket = WebSocketStream<FuturesIo<hyper::upgrade::Upgraded>>;

async fn echo(mut socket: Socket) {
    while let Some(Ok(message)) = socket.next().await {
        // The library answers the peer's Close itself; the stream ends after it.
        let data = message.is_text() || message.is_binary();
        if data && socket.send(message).await.is_err() {
            return;
        }
    }
}

async fn firehose(mut socket: Socket) {
    let mut n = 0;
    loop {
        n += 1;
        let message = Message::text(app::firehose_message(n));
        if socket.send(message).await.is_err() {
            return;
        }
        // One executor thread: the other tasks run between two messages.
        smol::future::yield_now().await;
    }
}
