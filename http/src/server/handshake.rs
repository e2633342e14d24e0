//! The step between the accept and HTTP (a TLS handshake), run in each connection's task.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::rt::{Read, Write};

use super::listener::Listener;

/// A per-connection step between the accept and HTTP: a TLS handshake (`tls::Tls` with the
/// `tls` feature), or any other exchange a connection must
/// go through before its first request (the PROXY protocol's header, say). Put it on a
/// listener with [`Listener::with_handshake`].
///
/// The server runs it in the connection's own task, never in its accept loop: a client that
/// stalls in the middle of its handshake holds nothing but its own connection. It runs under
/// the connection's guard, and the close watches it:
///
/// - a connection still in its handshake when the listener closes is closed at once and
///   counted ([`ConnectionCounts::closed_handshaking`]), unless it was accepted within the
///   [first-byte grace](crate::Server::first_byte_grace): then it has until the grace ends to
///   finish it and send its first request (answered, `503` from the layer);
/// - a handshake that takes longer than the [handshake
///   timeout](crate::Server::handshake_timeout) fails (a connection error);
/// - a handshake that fails is the peer's error ([`ConnectionCounts::errors`]).
///
/// [`ConnectionCounts::closed_handshaking`]: crate::ConnectionCounts::closed_handshaking
/// [`ConnectionCounts::errors`]: crate::ConnectionCounts::errors
///
/// # Examples
///
/// A step that reads a one-line greeting (`HELLO\n`) before HTTP:
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use std::future::poll_fn;
/// use std::io;
/// use std::pin::Pin;
/// use hyper::rt::{Read, ReadBuf};
/// use winddown::http::server::{FuturesIo, Handshake, Listener};
///
/// struct Greeting;
///
/// impl Handshake<FuturesIo<smol::net::TcpStream>> for Greeting {
///     type Io = FuturesIo<smol::net::TcpStream>;
///
///     async fn handshake(&self, mut io: Self::Io) -> io::Result<Self::Io> {
///         let mut want = &b"HELLO\n"[..];
///         while !want.is_empty() {
///             let mut byte = [0u8; 1];
///             let mut buf = ReadBuf::new(&mut byte);
///             poll_fn(|cx| Pin::new(&mut io).poll_read(cx, buf.unfilled())).await?;
///             match buf.filled() {
///                 [b] if *b == want[0] => want = &want[1..],
///                 _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "no greeting")),
///             }
///         }
///         Ok(io)
///     }
///
///     fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
///         smol::net::TcpListener::bytes_waiting(io)
///     }
/// }
///
/// # fn main() -> io::Result<()> {
/// smol::block_on(async {
///     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
///     let listener = listener.with_handshake(Greeting); // `Server::serve` takes it
///     # let _ = listener;
///     Ok(())
/// })
/// # }
/// ```
pub trait Handshake<I>: Send + Sync + 'static {
    /// The socket HTTP is served on once the step is done.
    type Io: Read + Write + Unpin + Send + 'static;

    /// Takes the accepted socket through the step.
    ///
    /// # Errors
    ///
    /// Why the step failed: the connection is closed, and counted as a connection error (the
    /// peer's, logged at debug level).
    ///
    /// # Cancel safety
    ///
    /// Dropped when the close (or the timeout) comes first: the socket closes with it.
    fn handshake(&self, io: I) -> impl Future<Output = io::Result<Self::Io>> + Send;

    /// Whether bytes from the peer are waiting, as [`Listener::bytes_waiting`] asks it of a
    /// plain socket: for TLS, plaintext the TLS state holds already (not the peer's
    /// close_notify: that is its end of file), or bytes in the socket underneath. `None` (the
    /// default) when it cannot tell. It takes the socket mutably: a TLS state may have to
    /// process what it has read to tell.
    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        let _ = io;
        None
    }
}

/// A listener whose connections go through a [`Handshake`] (in their own tasks) before HTTP:
/// from [`Listener::with_handshake`]. [`Server::serve`](crate::Server::serve) takes it where it
/// takes a listener.
#[derive(Debug)]
pub struct WithHandshake<L, H> {
    listener: L,
    handshake: Arc<H>,
}

impl<L, H> WithHandshake<L, H> {
    pub(crate) fn new(listener: L, handshake: H) -> Self {
        WithHandshake {
            listener,
            handshake: Arc::new(handshake),
        }
    }

    /// The listener.
    pub fn get_ref(&self) -> &L {
        &self.listener
    }

    /// The handshake.
    pub fn handshake(&self) -> &H {
        &self.handshake
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What [`Server::serve`](crate::Server::serve) accepts connections from: any [`Listener`],
/// or one with a [`Handshake`] ([`WithHandshake`], from [`Listener::with_handshake`]).
/// Implemented for those; the methods are the server's own.
pub trait Accept: sealed::Sealed + Send + 'static {
    /// What the listener accepts.
    #[doc(hidden)]
    type Conn: Send + 'static;
    /// The socket HTTP is served on.
    #[doc(hidden)]
    type Io: Read + Write + Unpin + Send + 'static;
    /// What each connection's task needs to run the handshake.
    #[doc(hidden)]
    type Step: Clone + Send + Sync + 'static;

    #[doc(hidden)]
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;

    #[doc(hidden)]
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Whether connections go through a handshake (if not, [`handshake`](Self::handshake) is
    /// ready at once with the accepted socket).
    #[doc(hidden)]
    const HANDSHAKES: bool;

    #[doc(hidden)]
    fn step(&self) -> Self::Step;

    #[doc(hidden)]
    fn handshake(
        step: &Self::Step,
        conn: Self::Conn,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send;

    #[doc(hidden)]
    fn bytes_waiting(io: &mut Self::Io) -> Option<bool>;
}

impl<L: Listener> sealed::Sealed for L {}

impl<L: Listener> Accept for L {
    type Conn = L::Io;
    type Io = L::Io;
    type Step = ();

    fn accept(&mut self) -> impl Future<Output = io::Result<(L::Io, SocketAddr)>> + Send {
        Listener::accept(self)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(self)
    }

    const HANDSHAKES: bool = false;

    fn step(&self) {}

    fn handshake(_step: &(), conn: L::Io) -> impl Future<Output = io::Result<L::Io>> + Send {
        std::future::ready(Ok(conn))
    }

    fn bytes_waiting(io: &mut L::Io) -> Option<bool> {
        L::bytes_waiting(io)
    }
}

impl<L: Listener, H: Handshake<L::Io>> sealed::Sealed for WithHandshake<L, H> {}

impl<L: Listener, H: Handshake<L::Io>> Accept for WithHandshake<L, H> {
    type Conn = L::Io;
    type Io = H::Io;
    type Step = Arc<H>;

    fn accept(&mut self) -> impl Future<Output = io::Result<(L::Io, SocketAddr)>> + Send {
        self.listener.accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    const HANDSHAKES: bool = true;

    fn step(&self) -> Arc<H> {
        self.handshake.clone()
    }

    fn handshake(step: &Arc<H>, conn: L::Io) -> impl Future<Output = io::Result<H::Io>> + Send {
        step.handshake(conn)
    }

    fn bytes_waiting(io: &mut H::Io) -> Option<bool> {
        H::bytes_waiting(io)
    }
}
