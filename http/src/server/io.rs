//! One connection's socket, as hyper (and, after an upgrade, its handler) sees it.
//!
//! These things happen here, and nowhere else:
//!
//! - **The HTTP/2 preface is recognised on the first read**, so a connection that has sent
//!   it (and nothing more yet) is HTTP/2 from then on: it gets a GOAWAY at the close, never
//!   the end of file below.
//! - **While the connection closes, "nothing to read now" ends an HTTP/1 connection**, once
//!   nothing is in flight or being written: that is how an idle keep-alive connection, one
//!   that never sent a byte, or one holding half a request head (never admitted) stops
//!   holding the drain, where hyper's own graceful shutdown would wait for the rest of the
//!   head. Before it says so, it asks the operating system whether bytes have arrived
//!   ([`Listener::bytes_waiting`]): a runtime may answer "nothing" from a readiness cache it
//!   has not refreshed (tokio, while its worker has not turned its I/O driver), and a request
//!   already in the socket is read and answered (the layer's `503`), not thrown away.
//! - **An upload past its grace ends the reads**: once the upload grace has ended at the
//!   close, bytes that arrive for an HTTP/1 request whose response has not started are its
//!   body still arriving: the read fails instead, so hyper hands the handler an incomplete
//!   body, and the connection closes after its answer. A request whose body has all arrived
//!   gets no bytes meanwhile (its client waits for the response), so it is never cut this way.
//! - **The cut**: from the drain deadline on, every read, write and flush fails, and whoever
//!   waits on one (hyper, or an upgrade's handler, reading or writing) is woken to see it.
//! - **A shutdown after the peer closed is done**: a peer that closed its socket first (an
//!   HTTP/2 client that closes right after its GOAWAY, without waiting for the server's last
//!   one) makes the shutdown fail; the connection is over on both sides all the same, and is
//!   not counted as an error.
//!
//! [`Listener::bytes_waiting`]: super::Listener::bytes_waiting

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use pin_project_lite::pin_project;

use super::connections::ConnShared;
use super::registry::Registry;
use super::websocket::WsIo;

/// The HTTP/2 connection preface (RFC 9113, 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How the server asks whether bytes have arrived on a socket: `Some(true)` they have,
/// `Some(false)` not (or only the peer's end of file), `None` it cannot tell.
pub(crate) type BytesWaiting<I> = fn(Pin<&mut I>) -> Option<bool>;

/// [`BytesWaiting`] for the sockets of `L`.
pub(crate) fn bytes_waiting<L: super::Listener>(io: Pin<&mut L::Io>) -> Option<bool> {
    L::bytes_waiting(io.get_mut())
}

pin_project! {
    /// The socket of one connection. Dropping it counts the connection gone.
    pub(crate) struct ConnIo<I> {
        #[pin]
        inner: I,
        shared: Arc<ConnShared>,
        registry: Arc<Registry>,
        bytes_waiting: BytesWaiting<I>,
        // How much of the HTTP/2 preface the first bytes matched; `None` once decided.
        preface: Option<u8>,
        // Written since the last completed flush.
        dirty: bool,
        // Its WebSocket frames, once it is one (see `websocket`).
        ws: Option<Box<WsIo>>,
    }

    impl<I> PinnedDrop for ConnIo<I> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let shared = &**this.shared;
            // Closed after admissions closed (not cut, not handed to an upgrade that dropped
            // it), with a request in the socket: its client will see a reset. HTTP/1 only:
            // over HTTP/2 the GOAWAY told the client which streams were not served (it may
            // retry them), and what is left unread is frames about the end (its own GOAWAY,
            // a PING, a stream the GOAWAY refused), not a request lost.
            if shared.shutdown.phase().admissions_closed()
                && !shared.is_cut()
                && !shared.is_upgraded()
                && !shared.is_http2()
                && (this.bytes_waiting)(this.inner) == Some(true)
            {
                this.registry.count_unread_at_close();
            }
            this.registry.remove(shared);
        }
    }
}

impl<I> ConnIo<I> {
    pub(crate) fn new(
        inner: I,
        shared: Arc<ConnShared>,
        registry: Arc<Registry>,
        bytes_waiting: BytesWaiting<I>,
    ) -> Self {
        ConnIo {
            inner,
            shared,
            registry,
            bytes_waiting,
            preface: Some(0),
            dirty: false,
            ws: None,
        }
    }
}

/// The largest read of an upload past its grace (see `ConnIo::poll_read_upload`): only one
/// byte has to arrive to tell.
const UPLOAD_PROBE: usize = 512;

fn upload_cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "request body still arriving when the upload grace ended at the close",
    )
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection cut at the drain deadline",
    )
}

impl<I> ConnIo<I> {
    /// Its WebSocket frames, if it has become one: followed from the first read or write
    /// after the `101` was decided (the response head goes out through here after that).
    fn websocket(self: Pin<&mut Self>) -> Option<&mut WsIo> {
        let this = self.project();
        if this.ws.is_none() && this.shared.is_websocket() {
            *this.ws = Some(Box::default());
        }
        this.ws.as_deref_mut()
    }
}

impl<I: Read> ConnIo<I> {
    /// A read of the connection's first bytes, through a small buffer of our own so that they
    /// can be compared with the HTTP/2 preface (hyper-util reads at most the preface's 24
    /// bytes first, to choose the protocol).
    fn poll_read_first(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let matched = usize::from(this.preface.unwrap_or(0));
        let want = buf.remaining().min(H2_PREFACE.len() - matched);
        if want == 0 {
            return this.inner.poll_read(cx, buf);
        }
        let mut storage = [0u8; H2_PREFACE.len()];
        let mut first = ReadBuf::new(&mut storage[..want]);
        let result = this.inner.poll_read(cx, first.unfilled());
        if let Poll::Ready(Ok(())) = &result {
            let got = first.filled();
            if !got.is_empty() {
                this.shared.got_first_byte();
            }
            let upto = matched + got.len();
            if got.is_empty() || got != &H2_PREFACE[matched..upto] {
                *this.preface = None;
            } else if upto == H2_PREFACE.len() {
                *this.preface = None;
                this.shared.set_http2();
                this.registry.count_http2();
            } else {
                *this.preface = Some(upto as u8);
            }
            buf.put_slice(got);
        }
        result
    }
}

impl<I: Read> ConnIo<I> {
    /// A read while an upload is past its grace: bytes that arrive are its body's, and end the
    /// connection's reads with an error (hyper gives the handler an incomplete body); the end
    /// of file, an error, or nothing yet pass as they are. Read through a small buffer of our
    /// own, to see whether bytes came; only such a connection, at the close, reads this way.
    fn poll_read_upload(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let mut storage = [MaybeUninit::uninit(); UPLOAD_PROBE];
        let want = buf.remaining().min(UPLOAD_PROBE);
        let mut probe = ReadBuf::uninit(&mut storage[..want]);
        match this.inner.poll_read(cx, probe.unfilled()) {
            Poll::Ready(Ok(())) if !probe.filled().is_empty() => {
                this.shared.cut_upload();
                super::events::upload_cut(this.shared.peer);
                Poll::Ready(Err(upload_cut_error()))
            }
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<I: Read + Write> Read for ConnIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if self.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        let result = if self.as_mut().websocket().is_some() {
            let this = self.as_mut().project();
            let ws = this.ws.as_deref_mut().expect("a WebSocket");
            ws.poll_read(this.inner, cx, buf, this.shared, this.registry)
        } else if self.shared.upload_past_grace() {
            self.as_mut().poll_read_upload(cx, buf)
        } else if self.preface.is_some() {
            self.as_mut().poll_read_first(cx, buf)
        } else {
            self.as_mut().project().inner.poll_read(cx, buf)
        };
        if result.is_ready() {
            return result;
        }
        let this = self.project();
        let shared = &**this.shared;
        if !shared.reader_may_be_woken() {
            // Serving HTTP before the close: hyper's reads wait on its task, which the close
            // (and the cut after it) wakes itself. No lock on this path, taken by every
            // keep-alive request.
            return Poll::Pending;
        }
        // Parked first, then the checks (the cut, and what `may_end` reads): a cut or the last
        // response leaving after this point finds the waker.
        shared.park_reader(cx.waker());
        if shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        if !*this.dirty && shared.may_end() && (this.bytes_waiting)(this.inner) != Some(true) {
            // Closing, nothing in flight, everything flushed, and nothing in the socket: end
            // of file. hyper closes an idle connection, and drops a partial request head (it
            // was never admitted) as an incomplete message. Not for HTTP/2 (`may_end`): after
            // its GOAWAY, h2 closes the connection itself once its streams are done, and the
            // peer's frames (window updates, ping acks) may still be on their way.
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl<I> ConnIo<I> {
    /// Parks a writer that must wait, so that the cut can wake it; the cut's error if it came.
    fn wait_to_write<T>(shared: &ConnShared, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        shared.park_writer(cx.waker());
        if shared.is_cut() {
            Poll::Ready(Err(cut_error()))
        } else {
            Poll::Pending
        }
    }
}

impl<I: Read + Write> Write for ConnIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        if self.as_mut().websocket().is_some() {
            let this = self.project();
            let ws = this.ws.as_deref_mut().expect("a WebSocket");
            return match ws.poll_write(this.inner, cx, buf, this.shared, this.registry) {
                Poll::Pending => Self::wait_to_write(this.shared, cx),
                ready => {
                    *this.dirty = true;
                    ready
                }
            };
        }
        let this = self.project();
        match this.inner.poll_write(cx, buf) {
            Poll::Pending => Self::wait_to_write(this.shared, cx),
            ready => {
                *this.dirty = true;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        if self.as_mut().websocket().is_some() {
            // Frame by frame: one slice at a time.
            let first = bufs.iter().find(|buf| !buf.is_empty());
            return self.poll_write(cx, first.map_or(&[][..], |buf| &buf[..]));
        }
        let this = self.project();
        match this.inner.poll_write_vectored(cx, bufs) {
            Poll::Pending => Self::wait_to_write(this.shared, cx),
            ready => {
                *this.dirty = true;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match this.inner.poll_flush(cx) {
            Poll::Pending => Self::wait_to_write(this.shared, cx),
            Poll::Ready(Ok(())) => {
                *this.dirty = false;
                // hyper flushes the socket only once its own buffer is empty: the responses
                // that ended before now are written.
                this.shared.flushed();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.shared.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        match this.inner.poll_shutdown(cx) {
            Poll::Pending => Self::wait_to_write(this.shared, cx),
            Poll::Ready(Err(err)) if peer_gone(&err) => Poll::Ready(Ok(())),
            ready => ready,
        }
    }
}

/// Whether a failed shutdown says only that the peer has closed its socket already: the
/// connection is over on both sides, which is what the shutdown was for. hyper flushes every
/// byte before it shuts the socket down, so the shutdown itself sends only the end of the
/// stream (TLS's close_notify, the TCP FIN): a peer that closed first answers the first of
/// them with a reset, and the next fails (`broken pipe`, or `not connected` for the FIN).
/// That is how an HTTP/2 client that closes as soon as its last stream is done ends: after
/// its GOAWAY, without waiting for the server's last one (h2load does).
fn peer_gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotConnected | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::task::{Wake, Waker};

    use winddown_core::Shutdown;

    use super::*;
    use crate::server::connections::ListenerState;

    /// A socket whose shutdown fails with `kind`.
    struct Gone(io::ErrorKind);

    impl Read for Gone {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Write for Gone {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::Error::from(self.0)))
        }
    }

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    /// A connection's shared state, admitted on `shutdown`.
    fn connection(shutdown: &Shutdown) -> Arc<ConnShared> {
        let guard = shutdown.enter().expect("admissions open");
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        Arc::new(ConnShared::new(
            0,
            peer,
            shutdown.clone(),
            Arc::new(ListenerState::default()),
            guard,
            false,
        ))
    }

    fn shut_down(kind: io::ErrorKind) -> Poll<io::Result<()>> {
        let shared = connection(&Shutdown::new());
        let io = ConnIo::new(Gone(kind), shared, Arc::new(Registry::default()), |_| None);
        let mut io = std::pin::pin!(io);
        let waker = Waker::from(Arc::new(Noop));
        io.as_mut().poll_shutdown(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_shutdown_after_the_peer_closed_is_done_not_an_error() {
        for kind in [
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::NotConnected,
            io::ErrorKind::ConnectionReset,
        ] {
            assert!(matches!(shut_down(kind), Poll::Ready(Ok(()))), "{kind:?}");
        }
        let other = shut_down(io::ErrorKind::PermissionDenied);
        assert!(
            matches!(&other, Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied),
            "{other:?}"
        );
    }

    /// Bytes unread at the close count against an HTTP/1 connection (a request its client
    /// will see reset), not an HTTP/2 one (the GOAWAY already said what was not served).
    #[test]
    fn only_http1_counts_bytes_unread_at_the_close() {
        for http2 in [false, true] {
            let shutdown = Shutdown::new();
            let shared = connection(&shutdown);
            if http2 {
                shared.set_http2();
            }
            let registry = Arc::new(Registry::default());
            let io = ConnIo::new(Gone(io::ErrorKind::Other), shared, registry.clone(), |_| {
                Some(true)
            });
            shutdown.trigger(winddown_core::Reason::requested());
            shutdown.close();
            drop(io);
            let expected = if http2 { 0 } else { 1 };
            assert_eq!(
                registry.counts().unread_at_close,
                expected,
                "http2: {http2}"
            );
        }
    }
}
