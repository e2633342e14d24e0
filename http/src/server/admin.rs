//! The admin listener: probes and status on a socket of their own, open through the whole
//! shutdown sequence.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

use hyper::rt::{Read, Write};
use winddown_core::runtime::Runtime;
use winddown_core::Phase;

use super::conn::ConnCtx;
use super::listener::{self, Backoff, Listener};
use super::service::{ConnService, ConnectionService, HttpService};
use super::Server;

impl<R> Server<R>
where
    R: Runtime + 'static,
{
    /// Serves `service` on `listener` as an admin listener, open until the shutdown sequence
    /// ends (its last phase, `Completed` or `Forced`): readiness, liveness and status stay
    /// reachable while the main listener is closed and its connections drain, so a load
    /// balancer's probe and an operator's `curl /status` still get answers. Usually
    /// [`AdminService`](crate::AdminService); any service (`serve` takes the same kinds).
    ///
    /// Its connections hold no guard (they never hold the drain) and are not counted or named
    /// in the report; when the sequence ends, the listener closes, idle connections close, and
    /// requests in flight finish. Use a `Server` of its own for it (the main listener's
    /// consumes its server). Returns when the listener has closed.
    ///
    /// # Errors
    ///
    /// The listener's `local_addr` error, or the error of a connection factory's readiness.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::{AdminService, Server};
    /// use winddown::tokio::TokioRuntime;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let admin = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
    /// let server = Server::new(&plan, TokioRuntime::new());
    /// tokio::spawn(server.serve_admin(admin, AdminService::new(&plan)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn serve_admin<L, M, K>(
        self,
        mut listener: L,
        mut service: M,
    ) -> impl Future<Output = io::Result<()>> + Send
    where
        L: Listener,
        M: ConnectionService<K>,
    {
        let addr = listener.local_addr();
        async move {
            let addr = addr?;
            let ctx = self.into_ctx();
            let mut end = ctx.shutdown.reached(Phase::Completed);
            let mut backoff = Backoff::new();
            loop {
                let accepted = listener::next_connection(
                    &ctx,
                    &mut listener,
                    addr,
                    &mut service,
                    &mut end,
                    &mut backoff,
                )
                .await?;
                let Some((mut io, peer)) = accepted else {
                    break;
                };
                // The handshake, if any, in the connection's own task, bounded by the
                // handshake timeout.
                let timeout = L::HANDSHAKES
                    .then(|| ctx.runtime.runtime().sleep(ctx.options.handshake_timeout));
                let (task_ctx, make) = (ctx.clone(), service.make(peer));
                let task = async move {
                    let shaken = match timeout {
                        None => true,
                        Some(timeout) => {
                            let mut handshake = pin!(L::handshake(&mut io));
                            let mut timeout = pin!(timeout);
                            poll_fn(|cx| {
                                if let Poll::Ready(done) = handshake.as_mut().poll(cx) {
                                    return Poll::Ready(done.is_ok());
                                }
                                timeout.as_mut().poll(cx).map(|()| false)
                            })
                            .await
                        }
                    };
                    if shaken {
                        serve_one(task_ctx, io, make).await;
                    }
                };
                ctx.runtime.runtime().spawn_detached(Box::pin(task));
            }
            Ok(())
        }
    }
}

/// One admin connection: served until it ends; at the end of the sequence, hyper's graceful
/// shutdown.
async fn serve_one<R, I, S>(ctx: Arc<ConnCtx<R>>, io: I, make: super::service::MakeFuture<S>)
where
    R: Runtime + 'static,
    I: Read + Write + Unpin + Send + 'static,
    S: HttpService,
{
    let Ok(service) = make.await else { return };
    let mut http = pin!(ctx
        .builder
        .serve_connection_with_upgrades(io, ConnService::new(service, None)));
    let mut end = ctx.shutdown.reached(Phase::Completed);
    let mut ending = false;
    let _ = poll_fn(|cx| {
        if !ending && Pin::new(&mut end).poll(cx).is_ready() {
            ending = true;
            http.as_mut().graceful_shutdown();
        }
        http.as_mut().poll(cx)
    })
    .await;
}
