//! One connection's task. It owns the socket's whole life: it makes the connection's service,
//! serves HTTP on the socket until the HTTP connection ends, and, if the socket outlives it (an
//! upgrade), stays until the socket goes or is cut. The connection's guard rides with the
//! socket ([`ConnShared`]), so whatever runs in here runs inside the drain.

use std::error::Error;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Read, Write};
use hyper_util::server::conn::auto;
use winddown_core::futures::Reached;
use winddown_core::runtime::{BoxFuture, Runtime};
use winddown_core::{Phase, Shutdown};

use super::connections::ConnShared;
use super::events;
use super::io::ConnIo;
use super::listener::Listener;
use super::registry::Registry;
use super::rt::HyperRuntime;
use super::service::{BoxError, ConnService, HttpService, MakeFuture};

/// What every connection task of a server shares.
pub(crate) struct ConnCtx<R> {
    pub(crate) builder: auto::Builder<HyperRuntime<R>>,
    pub(crate) runtime: HyperRuntime<R>,
    pub(crate) shutdown: Shutdown,
    pub(crate) registry: Arc<Registry>,
    pub(crate) options: Options,
}

/// The server's settings for its connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// How long after its accept a connection without a byte yet may still send its first
    /// request at the close (see `Server::first_byte_grace`).
    pub(crate) first_byte_grace: Duration,
    /// How long after its last response an idle connection may still send a request at the
    /// close (see `Server::keep_alive_grace`).
    pub(crate) keep_alive_grace: Duration,
    /// How long after the close an HTTP/1 request's body may still arrive before the
    /// connection's reads end (see `Server::upload_grace`); `None`: until the drain deadline.
    pub(crate) upload_grace: Option<Duration>,
    /// The longest a handshake may take.
    pub(crate) handshake_timeout: Duration,
    /// How long a WebSocket's peer has to answer the server's Close.
    pub(crate) websocket_close_timeout: Duration,
}

/// How the HTTP part of a connection ended.
enum Ended {
    /// Cut (at the drain deadline, or when forced): the registry has counted it.
    Cut,
    /// The HTTP connection ended by itself; `closing` if admissions had closed by then.
    Http {
        result: Result<(), BoxError>,
        closing: bool,
    },
}

/// Counts the connection as ended if its task ends before its socket became a [`ConnIo`]
/// (which counts it when it drops): a handshake that failed, or the close during it.
struct Unserved<'a> {
    registry: &'a Registry,
    shared: &'a ConnShared,
    armed: bool,
}

impl Drop for Unserved<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.registry.remove(self.shared);
        }
    }
}

/// Watches for the close of one connection: admissions closed, then the listener closed (a
/// client told to come back must find the port refusing). Once it sees both it marks the
/// connection closing.
///
/// The server closes the listener at the close, then wakes every connection's task (see
/// `Registry::wake_tasks`): the task's waker is parked in its [`ConnShared`], again only when
/// it changes, so a wake-up before the close (one comes with every request) costs two loads,
/// and no lock.
struct CloseWatch {
    admissions: Reached,
    parked: Option<Waker>,
    closing: bool,
}

impl CloseWatch {
    fn new(shutdown: &Shutdown, shared: &ConnShared) -> Self {
        CloseWatch {
            admissions: shutdown.reached(Phase::StoppingNewRequests),
            parked: None,
            closing: shared.is_closing(),
        }
    }

    /// Whether the connection is closing; parks `cx`'s waker until it is.
    fn poll(&mut self, cx: &mut Context<'_>, shutdown: &Shutdown, shared: &ConnShared) -> bool {
        if self.closing {
            return true;
        }
        let parked = self.parked.as_ref();
        if !parked.is_some_and(|p| p.will_wake(cx.waker())) {
            // Parked first, then the listener read: a close after this finds the waker.
            shared.park_task(cx.waker());
            self.parked = Some(cx.waker().clone());
        }
        // The listener also closes with the server's future, admissions open or not: then the
        // shutdown itself says when (rare: polled on each wake-up until then).
        if shared.listener.is_closed()
            && (shutdown.phase().admissions_closed()
                || Pin::new(&mut self.admissions).poll(cx).is_ready())
        {
            self.closing = true;
            shared.start_closing();
        }
        self.closing
    }
}

/// What is left, at the close, of the grace of `shared`: its first-byte grace if it has not
/// given a byte yet, or its keep-alive grace after its last response (HTTP/1); `None` past
/// both.
fn grace_left(options: &Options, shared: &ConnShared) -> Option<Duration> {
    let end = if !shared.has_first_byte() {
        shared.accepted_at.checked_add(options.first_byte_grace)?
    } else if !options.keep_alive_grace.is_zero() && !shared.is_http2() {
        let last = shared.last_active().unwrap_or(shared.accepted_at);
        last.checked_add(options.keep_alive_grace)?
    } else {
        return None;
    };
    end.checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Serves one connection until it ends, or until it is cut: its handshake (if the listener
/// has one), then HTTP, then, if an upgrade took the socket, the upgrade's life.
pub(crate) async fn run<R, L, S>(
    ctx: Arc<ConnCtx<R>>,
    mut io: L::Io,
    shared: Arc<ConnShared>,
    make: MakeFuture<S>,
) where
    R: Runtime + 'static,
    L: Listener,
    S: HttpService,
{
    let mut unserved = Unserved {
        registry: &ctx.registry,
        shared: &shared,
        armed: true,
    };
    if L::HANDSHAKES {
        ctx.registry.count_handshake();
        if !handshake::<R, L>(&ctx, &mut io, &shared).await {
            return;
        }
    }
    let service = match make.await {
        Ok(service) => service,
        Err(err) => {
            events::make_service_error(shared.peer, &*err);
            ctx.registry.count_error();
            return;
        }
    };
    // From here on the socket counts the connection as ended when it drops.
    unserved.armed = false;
    drop(unserved);
    let io = ConnIo::new(
        io,
        shared.clone(),
        ctx.registry.clone(),
        super::io::bytes_waiting::<L>,
    );
    match serve_http(&ctx, io, service, &shared).await {
        Ended::Cut => {}
        Ended::Http { result, closing } => {
            if let Err(err) = result {
                report_error(&ctx.registry, &shared, &*err, closing);
            }
            if !shared.is_gone() {
                // The HTTP connection ended and its socket lives on: hyper handed it to an
                // upgrade (`101 Switching Protocols`, a `2xx` to `CONNECT`, whatever hyper
                // upgrades on). Its handler owns it now; it counts as in flight until it
                // drops the socket, and is cut at the drain deadline like the rest.
                ctx.registry.count_upgraded(&shared);
                upgraded(&ctx, &shared).await;
            }
        }
    }
}

/// The connection's handshake, watched: `false` if it failed, timed out, was cut, or was
/// still going when the close came (and the first-byte grace was over), each counted.
async fn handshake<R, L>(ctx: &ConnCtx<R>, io: &mut L::Io, shared: &ConnShared) -> bool
where
    R: Runtime + 'static,
    L: Listener,
{
    let mut shaking = pin!(L::handshake(io));
    let mut timeout = pin!(ctx.runtime.runtime().sleep(ctx.options.handshake_timeout));
    let mut watch = CloseWatch::new(&ctx.shutdown, shared);
    let mut grace: Option<BoxFuture<()>> = None;
    poll_fn(|cx| {
        if watch.poll(cx, &ctx.shutdown, shared) {
            // From the close on, the cut may come: it wakes this task.
            shared.park_task(cx.waker());
            if shared.is_cut() {
                return Poll::Ready(false);
            }
        }
        if let Poll::Ready(done) = shaking.as_mut().poll(cx) {
            return Poll::Ready(match done {
                Ok(()) => true,
                Err(err) => {
                    // A client that left, or spoke something else: the peer's doing.
                    if !watch.closing {
                        ctx.registry.count_error();
                        events::connection_error(shared.peer, &err, true);
                    }
                    false
                }
            });
        }
        if timeout.as_mut().poll(cx).is_ready() {
            let err = io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "handshake not done after {:?}",
                    ctx.options.handshake_timeout
                ),
            );
            ctx.registry.count_error();
            events::connection_error(shared.peer, &err, true);
            return Poll::Ready(false);
        }
        if watch.closing {
            if grace.is_none() {
                match grace_left(&ctx.options, shared) {
                    Some(left) => grace = Some(ctx.runtime.runtime().sleep(left)),
                    None => {
                        ctx.registry.count_closed_handshaking();
                        return Poll::Ready(false);
                    }
                }
            }
            if let Some(sleep) = grace.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    ctx.registry.count_closed_handshaking();
                    return Poll::Ready(false);
                }
            }
        }
        Poll::Pending
    })
    .await
}

/// An upgraded connection's life after HTTP: until its handler drops the socket, or it is
/// cut. A WebSocket hears the close (its Close 1001, see `websocket`), and is cut if its peer
/// has not answered within the close timeout.
async fn upgraded<R>(ctx: &ConnCtx<R>, shared: &ConnShared)
where
    R: Runtime + 'static,
{
    let mut watch = CloseWatch::new(&ctx.shutdown, shared);
    let mut answer: Option<BoxFuture<()>> = None;
    poll_fn(|cx| {
        shared.park_task(cx.waker());
        if shared.is_gone() || shared.is_cut() {
            return Poll::Ready(());
        }
        if watch.poll(cx, &ctx.shutdown, shared) && shared.is_websocket() {
            let timeout = ctx.options.websocket_close_timeout;
            let sleep = answer.get_or_insert_with(|| {
                shared.websocket_close();
                ctx.runtime.runtime().sleep(timeout)
            });
            if sleep.as_mut().poll(cx).is_ready() {
                ctx.registry.cut_early(shared, timeout);
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
}

/// Serves HTTP on the socket: hyper's graceful shutdown once admissions close (for what has
/// something in flight, and for every HTTP/2 connection: its GOAWAY), until the connection
/// ends or is cut. Drops the HTTP connection (and with it the socket, unless an upgrade took
/// it) before it returns.
async fn serve_http<R, I, S>(
    ctx: &ConnCtx<R>,
    io: ConnIo<I>,
    service: S,
    shared: &Arc<ConnShared>,
) -> Ended
where
    R: Runtime + 'static,
    I: Read + Write + Unpin + Send + 'static,
    S: HttpService,
{
    let service = ConnService::new(service, Some(shared.clone()));
    let mut http = pin!(ctx.builder.serve_connection_with_upgrades(io, service));
    let mut watch = CloseWatch::new(&ctx.shutdown, shared);
    let mut graceful = false;
    let mut grace: Option<BoxFuture<()>> = None;
    let mut grace_checked = false;
    let mut uploads = Uploads::Unseen;
    poll_fn(|cx| loop {
        let closing = watch.poll(cx, &ctx.shutdown, shared);
        if closing {
            // From the close on, the cut may come: it wakes this task.
            shared.park_task(cx.waker());
            if shared.is_cut() {
                return Poll::Ready(Ended::Cut);
            }
            if !grace_checked {
                grace_checked = true;
                // A connection accepted just before the close, with nothing from its client
                // yet: its request may be on its way. It is given until the grace ends to
                // send it (and be answered) rather than being closed under it.
                if let Some(left) = grace_left(&ctx.options, shared) {
                    shared.set_grace(true);
                    grace = Some(ctx.runtime.runtime().sleep(left));
                }
            }
            if let Some(sleep) = grace.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    grace = None;
                    shared.set_grace(false);
                }
            }
            uploads.poll(ctx, shared, cx);
            // What has something in flight finishes it (HTTP/1 without keep-alive: the
            // response says `Connection: close`); every HTTP/2 connection gets its GOAWAY,
            // one that has not sent a request yet included. An idle HTTP/1 connection is not
            // closed by hyper but by its socket's reads (see `ConnIo`): bytes already in the
            // socket are read and answered first.
            if !graceful && (!shared.traffic().is_quiet() || shared.is_http2()) {
                graceful = true;
                http.as_mut().graceful_shutdown();
            }
        }
        match http.as_mut().poll(cx) {
            Poll::Ready(result) => return Poll::Ready(Ended::Http { result, closing }),
            // This very poll may have read a request, or the HTTP/2 preface: the graceful
            // shutdown is due now, not at the next wake-up.
            Poll::Pending
                if closing
                    && ((!graceful && (shared.traffic().requests() > 0 || shared.is_http2()))
                        || uploads.due(shared)) => {}
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// The upload grace of one HTTP/1 connection at the close: it starts when the connection's
/// task first sees, once closing, a request in flight with its body still to come (at the
/// close, or when such a request comes after it), and ends that body's reads when it is over.
enum Uploads {
    /// No such request seen yet.
    Unseen,
    /// The grace runs.
    Grace(BoxFuture<()>),
    /// Over (or off): nothing more to do.
    Done,
}

impl Uploads {
    /// Whether this poll must start the grace: a request awaiting its body has just come.
    fn due(&self, shared: &ConnShared) -> bool {
        matches!(self, Uploads::Unseen) && shared.awaiting_body()
    }

    /// Starts the grace when due, and ends the uploads when it is over. Called once closing.
    fn poll<R: Runtime>(&mut self, ctx: &ConnCtx<R>, shared: &ConnShared, cx: &mut Context<'_>) {
        if self.due(shared) {
            *self = match ctx.options.upload_grace {
                Some(grace) if !shared.is_http2() => {
                    Uploads::Grace(ctx.runtime.runtime().sleep(grace))
                }
                _ => Uploads::Done,
            };
        }
        if let Uploads::Grace(sleep) = self {
            if sleep.as_mut().poll(cx).is_ready() {
                *self = Uploads::Done;
                shared.end_uploads();
            }
        }
    }
}

/// Counts and logs a connection's error, unless the close or the cut caused it on purpose.
fn report_error(
    registry: &Registry,
    shared: &ConnShared,
    err: &(dyn Error + Send + Sync + 'static),
    closing: bool,
) {
    if shared.is_cut() || shared.upload_was_cut() {
        return;
    }
    let hyper_err = find::<hyper::Error>(err);
    let io_kind = find::<io::Error>(err).map(io::Error::kind);
    // The end of file a closing connection's reads give (see `ConnIo`) ends a half-sent head
    // as an incomplete message, and hyper-util cancels a connection still choosing its
    // protocol: both on purpose.
    let ours = closing
        && (hyper_err.is_some_and(hyper::Error::is_incomplete_message)
            || io_kind == Some(io::ErrorKind::Interrupted));
    if ours {
        return;
    }
    // The peer's doing: it left, reset, went silent, or sent something that is not HTTP. A
    // socket error of another kind, or the service's own error, is the server's.
    let by_peer = match io_kind {
        Some(kind) => matches!(
            kind,
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::TimedOut
        ),
        None => hyper_err.is_some_and(|e| !e.is_user()),
    };
    registry.count_error();
    events::connection_error(shared.peer, err, by_peer);
}

/// The first error of type `E` in `err`'s chain of sources.
fn find<'a, E: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}
