//! The listening socket: the trait, and how the server accepts from it (errors, back-off).

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use hyper::rt::{Read, Write};
use winddown_core::runtime::Runtime;

use super::conn::ConnCtx;
use super::handshake::{Handshake, WithHandshake};
use super::service::ConnectionService;

/// A listening socket the server accepts connections from. Implemented for the
/// `TcpListener`s of tokio, smol and async-std (features `tokio`, `smol`, `async-std`);
/// implement it for other sockets (Unix sockets, a channel of connections).
///
/// `accept` only accepts: a TLS handshake, or any other exchange before HTTP, goes in a
/// [`Handshake`] ([`with_handshake`](Self::with_handshake), itself a listener), which the
/// server runs in each connection's own task. Done in `accept`, one client that stalls its
/// handshake would stall every accept behind it, outside any guard the close could see.
///
/// # Examples
///
/// A listener that hands out connections from a channel (smol's, or any async channel: the
/// wait must not block a thread):
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use std::io;
/// use std::net::SocketAddr;
/// use winddown::http::server::Listener;
///
/// struct Channel<I> {
///     incoming: smol::channel::Receiver<(I, SocketAddr)>,
///     addr: SocketAddr,
/// }
///
/// impl<I> Listener for Channel<I>
/// where
///     I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
/// {
///     type Io = I;
///
///     async fn accept(&mut self) -> io::Result<(I, SocketAddr)> {
///         match self.incoming.recv().await {
///             Ok(connection) => Ok(connection),
///             // Every sender is gone: no connection will come again. Wait for the close
///             // (the server stops accepting then) rather than fail every accept.
///             Err(_closed) => std::future::pending().await,
///         }
///     }
///
///     fn local_addr(&self) -> io::Result<SocketAddr> {
///         Ok(self.addr)
///     }
/// }
/// ```
pub trait Listener: Send + 'static {
    /// A connection's socket.
    type Io: Read + Write + Unpin + Send + 'static;

    /// The next connection and its peer's address.
    ///
    /// # Errors
    ///
    /// An accept error. A connection error (the peer reset or aborted before it was
    /// accepted, or refused) is skipped at once; any other (out of file descriptors, out of
    /// memory) is logged and the server waits before it accepts again, 10 ms at first,
    /// doubling up to a second while the errors go on, watching the close meanwhile.
    ///
    /// # Cancel safety
    ///
    /// Must be cancel-safe: the server drops it when admissions close.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// As the socket's `local_addr`.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Whether bytes from the peer are waiting in `io`'s socket now, asked of the operating
    /// system (a non-blocking peek), not of a runtime's readiness cache: `Some(true)` when
    /// they are, `Some(false)` when not (nothing, or only the peer's end of file), `None` when
    /// it cannot tell (the default).
    ///
    /// The server asks it at the close, before it ends an idle HTTP/1 connection whose read
    /// found nothing: a runtime may answer "nothing" from a cache it has not refreshed
    /// (tokio's, while a busy worker has not turned its I/O driver), and a request that has
    /// arrived must be read and answered, not lost. With `None` the server trusts the read.
    /// It asks again as it drops a connection it closed, to count the ones closed with bytes
    /// unread ([`ConnectionCounts::unread_at_close`](crate::ConnectionCounts::unread_at_close)).
    /// [`bytes_waiting_in`](super::bytes_waiting_in) answers it for any socket. It takes the
    /// socket mutably, as [`Handshake::bytes_waiting`] does: a TLS state may have to process
    /// what it has read to tell.
    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        let _ = io;
        None
    }

    /// Whether [`handshake`](Self::handshake) has anything to do: the server counts and
    /// watches the handshakes of a listener that says so. Set by
    /// [`with_handshake`](Self::with_handshake)'s listener; leave it alone in a listener of
    /// your own, unless it wraps another listener: then forward it, and `handshake`, to the
    /// inner one (as `accept` and `bytes_waiting`), or the inner one's handshake never runs.
    const HANDSHAKES: bool = false;

    /// Takes an accepted socket through the listener's handshake, in the connection's task,
    /// under the server's handshake timeout; see [`HANDSHAKES`](Self::HANDSHAKES) for when a
    /// listener of your own implements it (forwarding only).
    fn handshake(io: &mut Self::Io) -> impl Future<Output = io::Result<()>> + Send {
        let _ = io;
        std::future::ready(Ok(()))
    }

    /// This listener, with `handshake` run on each connection (in the connection's task)
    /// before HTTP: TLS (`tls::Tls`, with the `tls` feature), or a step of your
    /// own. See [`Handshake`] for what the close does to connections still in it.
    ///
    /// # Examples
    ///
    #[cfg_attr(all(feature = "tls", feature = "tokio"), doc = "```no_run")]
    #[cfg_attr(not(all(feature = "tls", feature = "tokio")), doc = "```ignore")]
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::server::Listener;
    /// use winddown::http::tls::Tls;
    /// use winddown::{Config, Plan, Shutdown};
    /// use winddown::tokio::TokioRuntime;
    ///
    /// # async fn run(app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let tls = Tls::from_pem_files("cert.pem", "key.pem")?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
    /// winddown::http::Server::new(&plan, TokioRuntime::new()).serve(listener.with_handshake(tls), app).await?;
    /// # Ok(())
    /// # }
    /// ```
    fn with_handshake<H>(self, handshake: H) -> WithHandshake<Self, H>
    where
        Self: Sized,
        H: Handshake<Self::Io>,
    {
        WithHandshake::new(self, handshake)
    }
}

/// Answers [`Listener::bytes_waiting`] for a socket: a non-blocking one-byte peek
/// (`recv(MSG_PEEK)`), which asks the kernel and never takes the byte. The socket must be in
/// non-blocking mode (every runtime's is), or the peek waits for a byte. It takes any socket
/// of the operating system's: anything with a file descriptor on Unix (`AsFd`: std's, tokio's,
/// smol's and async-std's sockets), a socket handle on Windows (`AsSocket`).
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use std::io::Write;
/// use std::net::{TcpListener, TcpStream};
/// use winddown::http::server::bytes_waiting_in;
///
/// # fn main() -> std::io::Result<()> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut client = TcpStream::connect(listener.local_addr()?)?;
/// let (server, _) = listener.accept()?;
/// server.set_nonblocking(true)?;
/// assert_eq!(bytes_waiting_in(&server), Some(false));
/// client.write_all(b"GET / HTTP/1.1\r\n\r\n")?;
/// # while bytes_waiting_in(&server) != Some(true) { std::thread::yield_now(); }
/// assert_eq!(bytes_waiting_in(&server), Some(true));
/// # Ok(())
/// # }
/// ```
#[cfg(any(unix, windows))]
pub fn bytes_waiting_in<S: OsSocket>(socket: &S) -> Option<bool> {
    peek(socket2::SockRef::from(socket))
}

/// A socket of the operating system's, which [`bytes_waiting_in`] can peek: anything with a
/// file descriptor on Unix (`AsFd`), a socket handle on Windows (`AsSocket`). Not nameable
/// outside the crate: [`bytes_waiting_in`]'s docs state the bound.
#[cfg(unix)]
pub trait OsSocket: std::os::fd::AsFd {}

#[cfg(unix)]
impl<S: std::os::fd::AsFd + ?Sized> OsSocket for S {}

/// A socket of the operating system's, which [`bytes_waiting_in`] can peek: anything with a
/// file descriptor on Unix (`AsFd`), a socket handle on Windows (`AsSocket`).
#[cfg(windows)]
pub trait OsSocket: std::os::windows::io::AsSocket {}

#[cfg(windows)]
impl<S: std::os::windows::io::AsSocket + ?Sized> OsSocket for S {}

#[cfg(any(unix, windows))]
fn peek(socket: socket2::SockRef<'_>) -> Option<bool> {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    // A runtime's socket is non-blocking, so the peek never waits: it answers what the kernel
    // holds now.
    match socket.peek(&mut byte) {
        Ok(n) => Some(n > 0),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Some(false),
        Err(_) => None,
    }
}

/// The step of both accept loops (the main listener's and the admin's): waits until `service`
/// can make a connection's service, then accepts the next connection, unless `close` comes
/// first (`Ok(None)`); the service's readiness error otherwise. Waiting for the service first
/// holds connections in the backlog, not in memory.
pub(super) async fn next_connection<R, L, M, K, C>(
    ctx: &ConnCtx<R>,
    listener: &mut L,
    addr: SocketAddr,
    service: &mut M,
    close: &mut C,
    backoff: &mut Backoff,
) -> io::Result<Option<(L::Io, SocketAddr)>>
where
    R: Runtime,
    L: Listener,
    M: ConnectionService<K>,
    C: Future + Unpin,
{
    if !super::service::ready_unless(service, close).await? {
        return Ok(None);
    }
    Ok(accept(
        listener,
        addr,
        close,
        backoff,
        |wait| ctx.runtime.runtime().sleep(wait),
        || ctx.registry.count_accept_error(),
    )
    .await)
}

/// Accepts the next connection, unless admissions close first (`None`). Accept errors are
/// counted and logged, and back off as [`Listener::accept`] describes, without missing the
/// close.
async fn accept<L, C, S>(
    listener: &mut L,
    addr: SocketAddr,
    close: &mut C,
    backoff: &mut Backoff,
    sleep: impl Fn(Duration) -> S,
    mut on_error: impl FnMut(),
) -> Option<(L::Io, SocketAddr)>
where
    L: Listener,
    C: Future + Unpin,
    S: Future<Output = ()>,
{
    loop {
        let accepted = {
            let mut accept = std::pin::pin!(listener.accept());
            poll_fn(|cx| {
                if Pin::new(&mut *close).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await?
        };
        let err = match accepted {
            Ok(accepted) => {
                backoff.reset();
                return Some(accepted);
            }
            Err(err) => err,
        };
        on_error();
        if is_connection_error(&err) {
            // The peer's trouble, not the listener's: the next connection may be fine.
            super::events::accept_error(addr, &err, None);
            continue;
        }
        // Out of file descriptors, most likely: wait for some to be freed (a connection to
        // end), watching the close meanwhile.
        let wait = backoff.next();
        super::events::accept_error(addr, &err, Some(wait));
        let mut pause = std::pin::pin!(sleep(wait));
        let closed = poll_fn(|cx| {
            if Pin::new(&mut *close).poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            pause.as_mut().poll(cx).map(|()| false)
        })
        .await;
        if closed {
            return None;
        }
    }
}

/// A connection error at accept: skipped at once (as axum and hyper 0.14 do).
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The wait between failing accepts: 10 ms, doubling up to a second; back to the start after
/// an accept that works.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

const FIRST_WAIT: Duration = Duration::from_millis(10);
const LONGEST_WAIT: Duration = Duration::from_secs(1);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST_WAIT }
    }

    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(LONGEST_WAIT);
        wait
    }

    fn reset(&mut self) {
        self.next = FIRST_WAIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_a_second_and_starts_over() {
        let mut backoff = Backoff::new();
        let waits: Vec<u64> = (0..9).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), FIRST_WAIT);
    }
}
