//! The agent on tokio's `TcpListener`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::serve::{sealed::Sealed, AgentListener};

impl AgentListener for TcpListener {}

impl Sealed for TcpListener {
    type Stream = TcpStream;

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn sleep(wait: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(wait)
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }

    async fn write_and_close(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
        stream.write_all(bytes).await?;
        stream.shutdown().await
    }

    async fn read(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        stream.read(buf).await
    }
}
