//! The server's HTTP settings: winddown's own names for the few hyper settings a service tunes,
//! so that the server's API does not change with hyper-util's builder types.

use std::time::Duration;

use winddown_core::runtime::Runtime;

use super::Server;

/// HTTP settings. Each forwards to the connection builder of hyper-util the server runs;
/// unset, hyper's defaults hold (named on each method).
impl<R> Server<R>
where
    R: Runtime + 'static,
{
    /// Serves HTTP/1 only: a client's HTTP/2 preface is an error. Both are served unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server = Server::new(&plan, SmolRuntime::new()).http1_only();
    /// # let _ = server;
    /// ```
    pub fn http1_only(mut self) -> Self {
        self.builder = self.builder.http1_only();
        self
    }

    /// Serves HTTP/2 only (by prior knowledge, or after TLS's ALPN): gRPC's servers, say.
    /// Both are served unless set.
    pub fn http2_only(mut self) -> Self {
        self.builder = self.builder.http2_only();
        self
    }

    /// Whether an HTTP/1 connection is kept open for the next request after a response
    /// (`true` unless set). With `false`, each response carries `Connection: close`.
    pub fn http1_keep_alive(mut self, keep_alive: bool) -> Self {
        self.builder.http1().keep_alive(keep_alive);
        self
    }

    /// How long an HTTP/1 request head may take to arrive once its first byte has: hyper's
    /// default is 30 s; `None` waits for ever. A client that sends its head slowly
    /// (slowloris) holds a connection at most this long; at the close the server does not
    /// wait for it anyway (a half-sent head was never admitted).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use std::time::Duration;
    /// use winddown::http::Server;
    /// use winddown::smol::SmolRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let server = Server::new(&plan, SmolRuntime::new())
    ///     .header_read_timeout(Some(Duration::from_secs(5)));
    /// # let _ = server;
    /// ```
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.builder.http1().header_read_timeout(timeout);
        self
    }

    /// The most streams a client may have open at once on one HTTP/2 connection (hyper's
    /// default: 200); `None` for no limit.
    pub fn http2_max_concurrent_streams(mut self, max: Option<u32>) -> Self {
        self.builder.http2().max_concurrent_streams(max);
        self
    }

    /// HTTP/2 keep-alive: a PING every `interval` on a connection, closed when its
    /// acknowledgement takes longer than `timeout`. Off unless set (`None`); hyper's timeout
    /// is 20 s. A client that vanished without a FIN is noticed this way.
    pub fn http2_keep_alive(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.builder
            .http2()
            .keep_alive_interval(interval)
            .keep_alive_timeout(timeout);
        self
    }

    /// HTTP/2 flow-control windows: a stream's and the connection's initial size in bytes
    /// (`None`: hyper's, 1 MiB and 5 MiB). Larger windows help fast clients that upload or
    /// read big bodies over a long round trip. tonic's `initial_stream_window_size` and
    /// `initial_connection_window_size`.
    pub fn http2_windows(mut self, stream: Option<u32>, connection: Option<u32>) -> Self {
        self.builder
            .http2()
            .initial_stream_window_size(stream)
            .initial_connection_window_size(connection);
        self
    }

    /// Accepts WebSockets over HTTP/2 (extended `CONNECT`, RFC 8441). Off unless set: see the
    /// crate docs on what the close does to them (a stream of the connection, not an upgraded
    /// connection: no Close 1001 from the server).
    pub fn http2_websockets(mut self) -> Self {
        self.builder.http2().enable_connect_protocol();
        self
    }
}

#[cfg(test)]
mod tests {
    use winddown_core::testing::VirtualRuntime;
    use winddown_core::{Config, Plan, Shutdown};

    use super::Server;

    #[test]
    fn protocols_are_set_on_the_builder() {
        let plan = Plan::new(Shutdown::new(), Config::default());
        let both = Server::new(&plan, VirtualRuntime::new());
        assert!(both.builder.is_http1_available() && both.builder.is_http2_available());
        let one = Server::new(&plan, VirtualRuntime::new()).http1_only();
        assert!(one.builder.is_http1_available() && !one.builder.is_http2_available());
        let two = Server::new(&plan, VirtualRuntime::new()).http2_only();
        assert!(!two.builder.is_http1_available() && two.builder.is_http2_available());
    }
}
