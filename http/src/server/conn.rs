//! One connection's task. It owns the socket's whole life: it makes the connection's service,
//! serves HTTP on the socket until the HTTP connection ends, and, if the socket outlives it (an
//! upgrade), stays until the socket goes or is cut. The connection's guard rides with the
//! socket ([`ConnShared`]), so whatever runs in here runs inside the drain.

use std::error::Error;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Poll, Waker};

use hyper::rt::{Read, Write};
use hyper_util::server::conn::auto;
use winddown_core::runtime::Runtime;
use winddown_core::{Phase, Shutdown};

use super::connections::{ConnShared, Registry};
use super::events;
use super::io::ConnIo;
use super::rt::HyperRuntime;
use super::service::{BoxError, ConnService, HttpService, MakeFuture};

/// What every connection task of a server shares.
pub(crate) struct ConnCtx<R> {
    pub(crate) builder: auto::Builder<HyperRuntime<R>>,
    pub(crate) shutdown: Shutdown,
    pub(crate) registry: Arc<Registry>,
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

/// Serves one connection until it ends, or until it is cut.
pub(crate) async fn run<R, I, S>(
    ctx: Arc<ConnCtx<R>>,
    io: ConnIo<I>,
    shared: Arc<ConnShared>,
    make: MakeFuture<S>,
) where
    R: Runtime + 'static,
    R::Sleep: 'static,
    I: Read + Write + Unpin + Send + 'static,
    S: HttpService,
{
    let service = match make.await {
        Ok(service) => service,
        Err(err) => {
            events::make_service_error(shared.peer, &*err);
            ctx.registry.count_error();
            return;
        }
    };
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
                // Where an upgraded connection would hear of the close (a WebSocket's close
                // frame) if the server spoke its protocol.
                poll_fn(|cx| {
                    shared.park_task(cx.waker());
                    if shared.is_gone() || shared.is_cut() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
            }
        }
    }
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
    R::Sleep: 'static,
    I: Read + Write + Unpin + Send + 'static,
    S: HttpService,
{
    let service = ConnService::new(service, Some(shared.clone()));
    let mut http = pin!(ctx.builder.serve_connection_with_upgrades(io, service));
    let mut close = ctx.shutdown.reached(Phase::StoppingNewRequests);
    // The waker parked in `shared` for the server to wake at the close (see `Registry::
    // wake_tasks`): parked again only when the task's waker changes, so a wake-up (one comes
    // with every request) costs two loads here, and no lock.
    let mut parked: Option<Waker> = None;
    let mut closing = false;
    let mut graceful = false;
    poll_fn(|cx| loop {
        // The connection closes once admissions have closed and the listener too (see
        // `ListenerState`): a client told to come back then finds the port refusing. The
        // server closes the listener at the close, then wakes every connection's task.
        if !closing {
            if !parked.as_ref().is_some_and(|p| p.will_wake(cx.waker())) {
                // Parked first, then the listener read: a close after this finds the waker.
                shared.park_task(cx.waker());
                parked = Some(cx.waker().clone());
            }
            // The listener also closes with the server's future, admissions open or not:
            // then the shutdown itself says when (rare: polled on each wake-up until then).
            if shared.listener.is_closed()
                && (ctx.shutdown.is_closed() || Pin::new(&mut close).poll(cx).is_ready())
            {
                closing = true;
                shared.start_closing();
            }
        }
        if closing {
            // From the close on, the cut may come: it wakes this task.
            shared.park_task(cx.waker());
            if shared.is_cut() {
                return Poll::Ready(Ended::Cut);
            }
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
                    && !graceful
                    && (shared.traffic().requests() > 0 || shared.is_http2()) => {}
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// Counts and logs a connection's error, unless the close or the cut caused it on purpose.
fn report_error(
    registry: &Registry,
    shared: &ConnShared,
    err: &(dyn Error + Send + Sync + 'static),
    closing: bool,
) {
    if shared.is_cut() {
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
