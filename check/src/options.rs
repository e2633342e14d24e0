//! What a run does: paths, times, counts. The command line (`crate::cli`) builds one.

use std::time::Duration;

use nix::sys::signal::Signal;

/// The settings of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// A fast path that answers 200: the load and the warm-up requests.
    pub load_path: String,
    /// A request that takes a while (at least a second): the request in flight.
    pub slow_path: Option<String>,
    /// A server-sent events stream.
    pub sse_path: Option<String>,
    /// A WebSocket endpoint.
    pub ws_path: Option<String>,
    /// The readiness probe.
    pub ready_path: Option<String>,
    /// Where the slow upload goes (`POST`).
    pub upload_path: String,
    /// A request that holds the stop for longer than the escalation takes.
    pub stuck_path: String,
    /// How long the stop may take, from the signal to the exit.
    pub budget: Duration,
    /// How long the target may take to start.
    pub start_timeout: Duration,
    /// How long after the in-flight work a lingering connection may stay open.
    pub slack: Duration,
    /// How long the load runs before the signal.
    pub warmup: Duration,
    /// How long before the signal the slow request is sent.
    pub lead: Duration,
    /// The stop signal.
    pub signal: Signal,
    /// Whether to check escalation (second and third signal) on fresh starts.
    pub escalate: bool,
    /// HTTP/1.1 load connections.
    pub http1_connections: usize,
    /// HTTP/2 load connections.
    pub http2_connections: usize,
    /// Whether to draw a progress line on stderr.
    pub progress: bool,
}

impl Default for Options {
    /// The defaults match winddown's HTTP examples.
    fn default() -> Self {
        Options {
            load_path: "/".into(),
            slow_path: Some("/slow?ms=1000".into()),
            sse_path: Some("/sse".into()),
            ws_path: Some("/ws".into()),
            ready_path: Some("/readyz".into()),
            upload_path: "/upload".into(),
            stuck_path: "/slow?ms=60000".into(),
            budget: Duration::from_secs(30),
            start_timeout: Duration::from_secs(30),
            slack: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            lead: Duration::from_millis(500),
            signal: Signal::SIGTERM,
            escalate: false,
            http1_connections: 4,
            http2_connections: 2,
            progress: false,
        }
    }
}
