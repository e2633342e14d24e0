//! A gRPC service on tokio that stops well: tonic's routes served by winddown's server.
//!
//! ```text
//! cargo run --release --example tonic --features full -- --help
//! ```
//!
//! `winddown.example.Greeter` (see `examples/shared/greeter.rs`): `SayHello`, a unary call that
//! answers after `delay_ms`, and `Ticks`, a server stream of one tick every `every_ms`, forever.
//! On SIGTERM or Ctrl-C the listener closes, the HTTP/2 connections get GOAWAY (new calls go
//! elsewhere), unary calls in flight finish, and every `Ticks` stream ends with the status
//! `UNAVAILABLE` ("the server is shutting down"), a status gRPC clients retry, instead of a
//! reset at the drain deadline. The report and the connection counts go to stdout, progress
//! to stderr, and the exit code is the report's.
//!
//! Why winddown's server and not tonic's `serve_with_shutdown`: that one waits for every
//! stream to end by itself (a `Ticks` stream never does), has no drain deadline, and sends no
//! status; here the GOAWAY, the deadline, the count and the names come with the server, and
//! `EndStreamsLayer` ends the streams.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use winddown::http::grpc::EndStreamsLayer;
use winddown::http::ShutdownLayer;
use winddown::run_until_shutdown;
use winddown::tokio::TokioRuntime;
use winddown::Shutdown;

#[path = "shared/output.rs"]
mod output;

#[path = "shared/http_app.rs"]
#[allow(dead_code)] // the HTTP examples' routes
mod app;

#[path = "shared/greeter.rs"]
mod greeter;

use app::say;

const NAME: &str = "tonic";

const USAGE: &str = "\
A gRPC service (winddown.example.Greeter) on 127.0.0.1 that shuts down
gracefully.

OPTIONS:
    --port PORT            port to listen on (default 0: any free port)
    --drain-timeout SECS   how long to wait for calls in flight (default 10)
    --pre-stop SECS        how long before admissions close (default 0)
    -h, --help             print this help

Calls: SayHello (unary: `hello NAME` after delay_ms), Ticks (server stream: a
tick every every_ms). HTTP/2 without TLS (h2c, prior knowledge).

It prints `listening on ADDR`, then `ready`, on stdout. On SIGTERM or Ctrl-C:
the listener closes, connections get GOAWAY, unary calls in flight finish, Ticks
streams end with UNAVAILABLE, and at --drain-timeout what is left is cut and
named. It prints the report and the connection counts on stdout and exits with
the report's exit code: 0 completed, 1 failed, 2 timed out, 3 forced.";

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            app::out(&format!("{NAME}: {USAGE}"));
            output::finish(NAME);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            say!("{NAME}: {message}\n\n{USAGE}");
            output::finish(NAME);
            return ExitCode::from(64); // EX_USAGE
        }
    };
    let shutdown = Shutdown::new();
    let signals = match winddown::signals::Builder::new()
        // `say!` never waits for a stream (shared/output.rs): it never blocks, so it runs inline.
        .on_event_inline(|event| say!("{NAME}: {event}"))
        .listen(&shutdown)
    {
        Ok(signals) => signals,
        Err(err) => {
            say!("{NAME}: cannot listen for signals: {err}");
            output::finish(NAME);
            return ExitCode::from(71); // EX_OSERR
        }
    };
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let code = runtime.block_on(run(args, shutdown));
            runtime.shutdown_timeout(Duration::from_secs(1));
            code
        }
        Err(err) => {
            say!("{NAME}: cannot start the runtime: {err}");
            71
        }
    };
    output::finish(NAME);
    // Kept until the process is gone: a third signal still ends it at once.
    std::mem::forget(signals);
    ExitCode::from(code)
}

/// The flags, `Ok(None)` for `--help`: the HTTP examples' arguments, of which this one takes
/// `--port`, `--drain-timeout` and `--pre-stop`.
fn parse_args() -> Result<Option<app::Args>, String> {
    let mut args = app::Args {
        port: 0,
        drain_timeout: Duration::from_secs(10),
        pre_stop: Duration::ZERO,
        layer: true,
        admin_port: None,
        agent_port: None,
        tls: None,
        keep_alive_grace: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = match flag.as_str() {
            "--port" | "--drain-timeout" | "--pre-stop" => words
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?,
            _ => return Err(format!("unknown option {flag:?}")),
        };
        match flag.as_str() {
            "--port" => {
                args.port = value
                    .parse()
                    .map_err(|_| format!("--port takes a port, not {value:?}"))?
            }
            "--drain-timeout" => args.drain_timeout = app::seconds(&flag, &value)?,
            _ => args.pre_stop = app::seconds(&flag, &value)?,
        }
    }
    Ok(Some(args))
}

async fn run(args: app::Args, shutdown: Shutdown) -> u8 {
    let plan = match app::plan(NAME, &args, &shutdown) {
        Ok(plan) => plan,
        Err(err) => {
            say!("{NAME}: {err}");
            return 64;
        }
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
    let sleep: greeter::Sleep = Arc::new(|duration| Box::pin(tokio::time::sleep(duration)));
    // tonic's routes, as tonic's generated code makes them, behind two layers: the streams'
    // end at the close, and the admission of each call (a call that races the close gets
    // `503`, which a gRPC client reads as UNAVAILABLE).
    // `for_server`: winddown's server keeps each call's guard until its response is out.
    let admission = ShutdownLayer::new(&shutdown)
        .name_requests(&plan)
        .for_server();
    let routes = tonic::service::Routes::new(greeter::Greeter::new(sleep))
        .into_axum_router()
        .layer(EndStreamsLayer::new(&shutdown))
        .layer(admission);
    app::out("ready");
    let served = winddown::http::Server::new(&plan, TokioRuntime::new())
        .serve(listener, routes.into_make_service());
    let report = run_until_shutdown(&plan, TokioRuntime::new(), served).await;
    app::finish(&report)
}
