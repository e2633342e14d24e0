//! Reference servers for `winddown-check`: each stops the way its framework's docs show, with
//! the routes winddown's HTTP examples have (`/`, `/slow?ms=N`, `/sse`, `POST /upload`; no readiness probe,
//! since none of these docs has one). `check/reference/run.sh` scores them.

use std::time::Duration;

/// The port: `--port N` on the command line, else `$PORT`, else 8080.
pub fn port() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            if let Some(port) = args.next().and_then(|port| port.parse().ok()) {
                return port;
            }
        }
    }
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(8080)
}

/// `ms=N` from a query string, 1000 when absent.
pub fn slow_ms(query: Option<&str>) -> Duration {
    let ms = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}
