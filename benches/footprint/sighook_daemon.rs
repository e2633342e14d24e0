//! The floor of the footprint report: a std-only daemon that binds a port and waits for
//! SIGTERM with signal-hook, and nothing else.
//!
//! Like the demo daemons it listens on 127.0.0.1 (any free port) and prints `listening on
//! ADDR`, then `ready`, on stdout; on SIGTERM it returns from `main` and exits 0. One thread:
//! `Signals::forever` blocks the main thread on signal-hook's self-pipe.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};

use signal_hook::consts::SIGTERM;
use signal_hook::iterator::Signals;

fn main() -> io::Result<()> {
    // Before anything else, so that a SIGTERM from here on is never the default action.
    let mut signals = Signals::new([SIGTERM])?;
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {}", listener.local_addr()?)?;
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    // The first delivery ends the wait.
    let _ = signals.forever().next();
    Ok(())
}
