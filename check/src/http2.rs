//! HTTP/2 over cleartext (prior knowledge), through the `h2` client, with a tap on the bytes
//! the server sends that notes every GOAWAY frame as it arrives.
//!
//! `h2` handles a GOAWAY inside its connection state and tells streams only when they fail;
//! an idle connection that got a graceful GOAWAY and one the server just dropped look alike
//! from its API. The tap reads the frame headers off the wire instead (9 bytes each: length,
//! type, flags, stream id), so "this connection got GOAWAY at this instant, with this last
//! stream id and code" is a fact, not an inference.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use h2::client::SendRequest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::outcome::Outcome;

/// The GOAWAY frame's type.
const GOAWAY: u8 = 0x7;

/// What the tap has seen.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    /// When the first GOAWAY arrived, its last stream id and error code.
    pub goaway: Option<(Instant, u32, u32)>,
    /// How many frames the server has sent (its SETTINGS first: a server that sent none
    /// never answered the connection preface).
    pub frames: u64,
}

#[derive(Debug, Default)]
struct Scanner {
    /// The frame header being read.
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes left in the current frame.
    payload_left: usize,
    /// The current frame is a GOAWAY: its first 8 payload bytes.
    goaway: Option<Vec<u8>>,
    seen: Seen,
}

impl Scanner {
    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.payload_left == 0 && self.header_len < 9 {
                let take = (9 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&bytes[..take]);
                self.header_len += take;
                bytes = &bytes[take..];
                if self.header_len == 9 {
                    self.seen.frames += 1;
                    let length =
                        u32::from_be_bytes([0, self.header[0], self.header[1], self.header[2]]);
                    self.payload_left = length as usize;
                    self.goaway = (self.header[3] == GOAWAY).then(Vec::new);
                    if self.payload_left == 0 {
                        self.header_len = 0;
                    }
                }
                continue;
            }
            let take = self.payload_left.min(bytes.len());
            if let Some(goaway) = self.goaway.as_mut() {
                let want = 8usize.saturating_sub(goaway.len()).min(take);
                goaway.extend_from_slice(&bytes[..want]);
                if goaway.len() == 8 && self.seen.goaway.is_none() {
                    let last = u32::from_be_bytes([goaway[0], goaway[1], goaway[2], goaway[3]])
                        & 0x7fff_ffff;
                    let code = u32::from_be_bytes([goaway[4], goaway[5], goaway[6], goaway[7]]);
                    self.seen.goaway = Some((Instant::now(), last, code));
                }
            }
            self.payload_left -= take;
            bytes = &bytes[take..];
            if self.payload_left == 0 {
                self.header_len = 0;
                self.goaway = None;
            }
        }
    }
}

/// A TCP stream whose incoming frames are scanned for GOAWAY.
#[derive(Debug)]
pub struct Tap {
    stream: TcpStream,
    scanner: Arc<Mutex<Scanner>>,
}

/// Reads what a [`Tap`] has seen, from another task.
#[derive(Clone, Debug)]
pub struct TapView(Arc<Mutex<Scanner>>);

impl TapView {
    /// What the tap has seen so far.
    pub fn seen(&self) -> Seen {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).seen
    }
}

impl AsyncRead for Tap {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.scanner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .scan(new);
            }
        }
        poll
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// An open HTTP/2 connection: a handle to send requests, the tap's view, and the end of the
/// connection task.
#[derive(Debug)]
pub struct Conn {
    /// Sends requests.
    pub send: SendRequest<Bytes>,
    /// The GOAWAY tap.
    pub view: TapView,
    /// Resolves when the connection has ended.
    pub ended: tokio::sync::oneshot::Receiver<Instant>,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The TCP connect failed.
    Connect(io::Error),
    /// The HTTP/2 handshake failed.
    Handshake(h2::Error),
}

/// Connects to `addr` and starts an HTTP/2 connection on it; its task runs on the current
/// runtime until the connection ends.
pub async fn open(addr: SocketAddr) -> Result<Conn, OpenError> {
    let stream = TcpStream::connect(addr).await.map_err(OpenError::Connect)?;
    let _ = stream.set_nodelay(true);
    let scanner = Arc::new(Mutex::new(Scanner::default()));
    let tap = Tap {
        stream,
        scanner: scanner.clone(),
    };
    let (send, connection) = h2::client::handshake(tap)
        .await
        .map_err(OpenError::Handshake)?;
    let (done, ended) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = connection.await;
        let _ = done.send(Instant::now());
    });
    Ok(Conn {
        send,
        view: TapView(scanner),
        ended,
    })
}

/// Sends `GET path` on `send` and reads the whole response: its outcome, and whether the
/// response head arrived.
pub async fn get(
    send: &SendRequest<Bytes>,
    addr: SocketAddr,
    path: &str,
    seen: &TapView,
) -> Outcome {
    let request = match http::Request::get(format!("http://{addr}{path}"))
        .header("user-agent", "winddown-check")
        .body(())
    {
        Ok(request) => request,
        Err(_) => return Outcome::Malformed,
    };
    let mut send = match send.clone().ready().await {
        Ok(send) => send,
        Err(err) => return classify(&err, false, seen),
    };
    let response = match send.send_request(request, true) {
        Ok((response, _)) => response,
        Err(err) => return classify(&err, false, seen),
    };
    let response = match response.await {
        Ok(response) => response,
        Err(err) => return classify(&err, false, seen),
    };
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        match chunk {
            Ok(chunk) => {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            Err(err) => return classify(&err, true, seen),
        }
    }
    crate::http1::status_outcome(status)
}

/// The outcome of a stream that failed with `err`; `started` says whether its response head
/// had arrived.
pub fn classify(err: &h2::Error, started: bool, seen: &TapView) -> Outcome {
    let goaway = seen.seen().goaway.is_some();
    if !started
        && (err.reason() == Some(h2::Reason::REFUSED_STREAM) || (err.is_go_away() && goaway))
    {
        return Outcome::GoawayRefused;
    }
    let reset = match err.get_io() {
        Some(io_err) => !matches!(io_err.kind(), io::ErrorKind::UnexpectedEof),
        // A RST_STREAM, a GOAWAY, any error code: a reset.
        None => {
            err.is_reset()
                || err.is_go_away()
                || err
                    .reason()
                    .is_some_and(|reason| reason != h2::Reason::NO_ERROR)
        }
    };
    match (reset, started) {
        (true, false) => Outcome::ResetBeforeResponse,
        (true, true) => Outcome::ResetMidBody,
        (false, false) if goaway => Outcome::GoawayRefused,
        (false, false) => Outcome::EofBeforeResponse,
        (false, true) => Outcome::EofMidBody,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_finds_a_goaway_split_across_reads() {
        // SETTINGS (empty), then GOAWAY last-stream-id 3, NO_ERROR, 2 bytes of debug data.
        let mut wire = vec![0, 0, 0, 0x4, 0, 0, 0, 0, 0];
        wire.extend_from_slice(&[0, 0, 10, GOAWAY, 0, 0, 0, 0, 0]);
        wire.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, b'h', b'i']);
        for split in 0..wire.len() {
            let mut scanner = Scanner::default();
            scanner.scan(&wire[..split]);
            scanner.scan(&wire[split..]);
            let (_, last, code) = scanner.seen.goaway.expect("a GOAWAY");
            assert_eq!((last, code), (3, 0), "split at {split}");
        }
    }

    #[test]
    fn a_refused_stream_is_goaway_refused_and_a_reset_is_a_reset() {
        let view = TapView(Arc::default());
        let refused = h2::Error::from(h2::Reason::REFUSED_STREAM);
        assert_eq!(classify(&refused, false, &view), Outcome::GoawayRefused);
        let reset = h2::Error::from(h2::Reason::INTERNAL_ERROR);
        assert_eq!(classify(&reset, false, &view), Outcome::ResetBeforeResponse);
        assert_eq!(classify(&reset, true, &view), Outcome::ResetMidBody);
    }

    #[test]
    fn the_scanner_ignores_other_frames() {
        // A DATA frame whose payload looks like a GOAWAY header.
        let mut wire = vec![0, 0, 9, 0x0, 0, 0, 0, 0, 1];
        wire.extend_from_slice(&[0, 0, 8, GOAWAY, 0, 0, 0, 0, 0]);
        let mut scanner = Scanner::default();
        scanner.scan(&wire);
        assert!(scanner.seen.goaway.is_none());
    }
}
