//! The agent on smol's `TcpListener`.

use std::io;
use std::net::Shutdown;

use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use super::serve::{sealed::Sealed, AgentListener, ACCEPT_PAUSE, LINGER, READ_LIMIT};

impl AgentListener for TcpListener {}

impl Sealed for TcpListener {
    type Stream = TcpStream;

    async fn accept(&self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }

    fn answer(stream: TcpStream, line: String) {
        smol::spawn(async move {
            // Errors end the answer: haproxy resets the connection once it has its line.
            let answered = async {
                let _ = answer(stream, line).await;
            };
            smol::future::or(answered, async {
                smol::Timer::after(LINGER).await;
            })
            .await;
        })
        .detach();
    }

    async fn pause() {
        smol::Timer::after(ACCEPT_PAUSE).await;
    }
}

async fn answer(mut stream: TcpStream, line: String) -> io::Result<()> {
    stream.write_all(line.as_bytes()).await?;
    stream.shutdown(Shutdown::Write)?;
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
