//! The baseline of P6: a bare tokio daemon that does nothing at shutdown.
//!
//! Like the demo daemon (`examples/demo/daemon.rs`) it runs on one current-thread runtime, listens on
//! 127.0.0.1 (any free port), prints `listening on ADDR` and then `ready` on stdout, and accepts
//! connections (dropping them) until SIGTERM, which it handles through `tokio::signal::unix`
//! (registered before `ready`, so the default action never ends it). On SIGTERM it returns from
//! `main` and exits 0: no sequence, no report. The `stop` bench starts it as a child process.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate = signal(SignalKind::terminate())?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        println!("listening on {}", listener.local_addr()?);
        println!("ready");
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                accepted = listener.accept() => drop(accepted),
            }
        }
        Ok(())
    })
}
