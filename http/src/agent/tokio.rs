//! The agent on tokio's `TcpListener`.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::serve::{sealed::Sealed, AgentListener, ACCEPT_PAUSE, LINGER, READ_LIMIT};

impl AgentListener for TcpListener {}

impl Sealed for TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }

    fn answer(stream: TcpStream, line: String) {
        tokio::spawn(async move {
            // Errors end the answer: haproxy resets the connection once it has its line.
            let _ = tokio::time::timeout(LINGER, answer(stream, line)).await;
        });
    }

    async fn pause() {
        tokio::time::sleep(ACCEPT_PAUSE).await;
    }
}

async fn answer(mut stream: TcpStream, line: String) -> io::Result<()> {
    stream.write_all(line.as_bytes()).await?;
    stream.shutdown().await?;
    let mut buf = [0; 512];
    let mut read = 0;
    while read < READ_LIMIT {
        match stream.read(&mut buf).await? {
            0 => break,
            n => read += n,
        }
    }
    Ok(())
}
