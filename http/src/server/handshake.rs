//! The step between the accept and HTTP (a TLS handshake), run in each connection's task.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

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
/// from [`Listener::with_handshake`]. A [`Listener`] itself:
/// [`Server::serve`](crate::Server::serve) takes it as any other, and another handshake goes
/// on top of it: each connection goes through the inner one first. The outer handshake is
/// given the inner one's connection, so it must take any hyper IO (`Read + Write`);
/// [`tls::Tls`](crate::tls::Tls) takes a runtime's own socket, so it is the first (or only)
/// handshake.
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

impl<L, H> Listener for WithHandshake<L, H>
where
    L: Listener,
    H: Handshake<L::Io>,
{
    type Io = Handshaking<L::Io, H>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (io, peer) = self.listener.accept().await?;
        let state = State::Accepted(io, self.handshake.clone());
        Ok((Handshaking { state }, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        match &mut io.state {
            State::Done(io) => H::bytes_waiting(io),
            State::Accepted(..) | State::Failed => None,
        }
    }

    const HANDSHAKES: bool = true;

    async fn handshake(io: &mut Self::Io) -> io::Result<()> {
        // The inner listener's handshake first, if it has one.
        if let State::Accepted(inner, _) = &mut io.state {
            if L::HANDSHAKES {
                L::handshake(inner).await?;
            }
        }
        io.handshake().await
    }
}

/// A connection of a [`WithHandshake`] listener: the accepted socket until its handshake is
/// done (run by the server, in the connection's task), the handshake's socket after.
pub struct Handshaking<I, H: Handshake<I>> {
    state: State<I, H>,
}

enum State<I, H: Handshake<I>> {
    Accepted(I, Arc<H>),
    Done(H::Io),
    Failed,
}

impl<I, H: Handshake<I>> Handshaking<I, H> {
    async fn handshake(&mut self) -> io::Result<()> {
        let State::Accepted(io, handshake) = std::mem::replace(&mut self.state, State::Failed)
        else {
            return Ok(());
        };
        self.state = State::Done(handshake.handshake(io).await?);
        Ok(())
    }

    /// The handshake's socket: reads and writes before it is done fail.
    fn done(self: Pin<&mut Self>) -> io::Result<Pin<&mut H::Io>>
    where
        I: Unpin,
    {
        match &mut self.get_mut().state {
            State::Done(io) => Ok(Pin::new(io)),
            _ => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

impl<I, H: Handshake<I>> fmt::Debug for Handshaking<I, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Accepted(..) => "accepted",
            State::Done(_) => "done",
            State::Failed => "failed",
        };
        f.debug_struct("Handshaking")
            .field("state", &state)
            .finish()
    }
}

impl<I: Unpin, H: Handshake<I>> Read for Handshaking<I, H> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.done()?.poll_read(cx, buf)
    }
}

impl<I: Unpin, H: Handshake<I>> Write for Handshaking<I, H> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.done()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.done()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.state {
            State::Done(io) => io.is_write_vectored(),
            _ => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.done()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.done()?.poll_shutdown(cx)
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use std::future::poll_fn;

    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;

    /// Hands out one socket, then waits.
    struct Once(Option<TokioIo<DuplexStream>>);

    impl Listener for Once {
        type Io = TokioIo<DuplexStream>;

        async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
            match self.0.take() {
                Some(io) => Ok((io, SocketAddr::from(([127, 0, 0, 1], 1)))),
                None => std::future::pending().await,
            }
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        }
    }

    /// A handshake that writes its tag to the peer.
    struct Tag(&'static [u8]);

    impl<I: Read + Write + Unpin + Send + 'static> Handshake<I> for Tag {
        type Io = I;

        async fn handshake(&self, mut io: I) -> io::Result<I> {
            let mut left = self.0;
            while !left.is_empty() {
                let n = poll_fn(|cx| Pin::new(&mut io).poll_write(cx, left)).await?;
                left = &left[n..];
            }
            Ok(io)
        }
    }

    /// What the server does with an accepted socket of `listener`.
    async fn handshake_of<L: Listener>(_listener: &L, io: &mut L::Io) -> io::Result<()> {
        assert!(L::HANDSHAKES);
        L::handshake(io).await
    }

    #[tokio::test]
    async fn stacked_handshakes_run_inner_first() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut listener = Once(Some(TokioIo::new(ours)))
            .with_handshake(Tag(b"proxy "))
            .with_handshake(Tag(b"tls"));
        let (mut io, _) = listener.accept().await.unwrap();
        handshake_of(&listener, &mut io).await.unwrap();
        let mut said = [0u8; 9];
        peer.read_exact(&mut said).await.unwrap();
        assert_eq!(&said, b"proxy tls");
    }
}
