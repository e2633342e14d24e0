//! The agent on smol's `TcpListener`.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::serve::{sealed::Sealed, AgentListener};

impl AgentListener for TcpListener {}

impl Sealed for TcpListener {
    type Stream = TcpStream;

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    fn sleep(wait: Duration) -> impl Future<Output = ()> + Send {
        let timer = smol::Timer::after(wait);
        async move {
            timer.await;
        }
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }

    async fn write_and_close(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
        stream.write_all(bytes).await?;
        stream.shutdown(Shutdown::Write)
    }

    async fn read(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        stream.read(buf).await
    }
}
