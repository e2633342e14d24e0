//! The server's [`Listener`] for tokio's `TcpListener`.

use std::io;
use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::server::Listener;

impl Listener for TcpListener {
    type Io = TokioIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Small responses go out at once rather than waiting for an ACK (Nagle).
        let _ = stream.set_nodelay(true);
        Ok((TokioIo::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }

    /// tokio answers a read from its readiness cache, refreshed only when a worker turns the
    /// I/O driver: the kernel is asked instead.
    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        crate::server::bytes_waiting_in(io.inner())
    }
}
