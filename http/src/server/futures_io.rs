//! hyper's IO traits over the `futures-io` ones (smol's and async-std's sockets).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{ReadBuf, ReadBufCursor};
use pin_project_lite::pin_project;

pin_project! {
    /// hyper's `rt::Read` and `rt::Write` for a `futures-io` socket: smol's and async-std's
    /// `TcpStream`, a `UnixStream`, or anything else that implements `AsyncRead` and
    /// `AsyncWrite`. The counterpart of hyper-util's `TokioIo` for tokio's.
    ///
    /// And the other way round, like `TokioIo`: `futures-io`'s `AsyncRead` and `AsyncWrite`
    /// for a hyper socket, such as an upgraded connection (`hyper::upgrade::Upgraded`), so
    /// that a futures-io WebSocket library (async-tungstenite) can take it.
    ///
    /// Reads go through a 16 KiB buffer on the stack and are copied into hyper's buffer (one
    /// `memcpy` per read): the price of reading into hyper's uninitialised buffer without
    /// `unsafe`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::server::FuturesIo;
    ///
    /// # smol::block_on(async {
    /// let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = smol::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let io = FuturesIo::new(client); // hyper::rt::Read + hyper::rt::Write
    /// # let _ = io.get_ref();
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[derive(Debug)]
    pub struct FuturesIo<T> {
        #[pin]
        inner: T,
    }
}

impl<T> FuturesIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        FuturesIo { inner }
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The socket, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The socket, unwrapped.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The write half of a socket adapter (a pinned struct whose `inner` field is the socket),
/// forwarded to the socket: `poll_write`, `poll_write_vectored`, `poll_flush`, and the close
/// (`$close`, the adapter's name for it) as the socket's `$inner_close`.
macro_rules! forward_write {
    ($close:ident => $inner_close:ident) => {
        fn poll_write(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            buf: &[u8],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            self.project().inner.poll_write(cx, buf)
        }

        fn poll_write_vectored(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
            bufs: &[::std::io::IoSlice<'_>],
        ) -> ::std::task::Poll<::std::io::Result<usize>> {
            self.project().inner.poll_write_vectored(cx, bufs)
        }

        fn poll_flush(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            self.project().inner.poll_flush(cx)
        }

        fn $close(
            self: ::std::pin::Pin<&mut Self>,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::io::Result<()>> {
            self.project().inner.$inner_close(cx)
        }
    };
}
#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use forward_write;

/// [`Listener`](super::Listener) for a `futures-io` runtime's `TcpListener` (smol's,
/// async-std's): `$listener` accepting `$stream`s.
#[cfg(any(feature = "smol", feature = "async-std"))]
macro_rules! futures_io_tcp_listener {
    ($listener:ty, $stream:ty) => {
        impl $crate::server::Listener for $listener {
            type Io = $crate::server::FuturesIo<$stream>;

            async fn accept(&mut self) -> ::std::io::Result<(Self::Io, ::std::net::SocketAddr)> {
                let (stream, peer) = <$listener>::accept(self).await?;
                // Small responses go out at once rather than waiting for an ACK (Nagle).
                let _ = stream.set_nodelay(true);
                Ok(($crate::server::FuturesIo::new(stream), peer))
            }

            fn local_addr(&self) -> ::std::io::Result<::std::net::SocketAddr> {
                <$listener>::local_addr(self)
            }

            /// async-io (under smol's and async-std's sockets) tries the read itself before it
            /// waits, so a waiting read already means an empty socket; the kernel is asked all
            /// the same, at no cost worth counting (only idle connections at the close are
            /// asked).
            fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
                $crate::server::bytes_waiting_in(io.get_ref())
            }
        }
    };
}
#[cfg(any(feature = "smol", feature = "async-std"))]
pub(crate) use futures_io_tcp_listener;

const SCRATCH: usize = 16 * 1024;

impl<T: AsyncRead> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut scratch = [0u8; SCRATCH];
        let want = buf.remaining().min(SCRATCH);
        let n = ready!(self.project().inner.poll_read(cx, &mut scratch[..want]))?;
        buf.put_slice(&scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> hyper::rt::Write for FuturesIo<T> {
    forward_write!(poll_shutdown => poll_close);

    fn is_write_vectored(&self) -> bool {
        true
    }
}

impl<T: hyper::rt::Read> AsyncRead for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(self.project().inner.poll_read(cx, buf.unfilled()))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl<T: hyper::rt::Write> AsyncWrite for FuturesIo<T> {
    forward_write!(poll_close => poll_shutdown);
}
