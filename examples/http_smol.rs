//! The service of `examples/axum.rs` on smol: the same axum router, flags, output and exit
//! codes, served by `winddown::http::smol` (hyper on smol's executor and async-io).
//!
//! ```text
//! cargo run --release --example http_smol --features full -- --help
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use smol::net::TcpListener;
use winddown::http::agent::Agent;
use winddown::smol::run_until_shutdown;
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
    let (router, layer) = app::router(&plan, sleep, args.layer);
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
        let admin = winddown::http::smol::server(&plan)
            .serve_admin(admin, app::admin(&plan, layer.as_ref()));
        smol::spawn(admin).detach();
    }
    let server = winddown::http::smol::server(&plan);
    app::out("ready");
    let report = run_until_shutdown(&plan, server.serve(listener, router)).await;
    app::finish(&report)
}
