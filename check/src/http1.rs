//! A small HTTP/1.1 client that reports exactly where a response stopped.
//!
//! Client libraries retry, pool and fold "reset before the response" and "EOF in the middle
//! of the body" into one error; the checker needs to tell them apart, and to see the chunked
//! body's last chunk (the clean end of a stream). So it writes requests by hand, parses heads
//! with `httparse`, and reads bodies by their framing: `Content-Length`, chunked, or until
//! the close.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::outcome::Outcome;

/// How many bytes a response head may have.
const MAX_HEAD: usize = 64 * 1024;

/// Why reading a response stopped before its end.
#[derive(Debug)]
pub enum Cut {
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection (FIN).
    Eof,
    /// The bytes were not an HTTP/1.1 response.
    Malformed(String),
}

impl Cut {
    fn from_io(err: &io::Error) -> Cut {
        match err.kind() {
            io::ErrorKind::UnexpectedEof => Cut::Eof,
            // Reset, aborted, broken pipe, and anything else the socket says: the connection
            // is gone without a clean end.
            _ => Cut::Reset,
        }
    }

    /// The outcome of a request whose response was cut here; `started` says whether any
    /// byte of the response had arrived.
    pub fn outcome(&self, started: bool) -> Outcome {
        match (self, started) {
            (Cut::Reset, false) => Outcome::ResetBeforeResponse,
            (Cut::Reset, true) => Outcome::ResetMidBody,
            (Cut::Eof, false) => Outcome::EofBeforeResponse,
            (Cut::Eof, true) => Outcome::EofMidBody,
            (Cut::Malformed(_), _) => Outcome::Malformed,
        }
    }
}

/// How a response's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`: ends with the last chunk.
    Chunked,
    /// Neither: the body ends when the connection closes.
    UntilClose,
}

/// A response head.
#[derive(Clone, Debug)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Whether the server said `Connection: close` (or answered HTTP/1.0 without keep-alive).
    pub close: bool,
    /// How the body is framed.
    pub framing: Framing,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
}

/// A whole connection, or the read half of one whose write half a writer task has.
#[derive(Debug)]
enum Stream {
    Full(TcpStream),
    Read(tokio::net::tcp::OwnedReadHalf),
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    buf: BytesMut,
    /// Whether any byte of the current response has arrived.
    started: bool,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        // Requests go out in one write each; no need to wait for acknowledgements.
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: Stream::Full(stream),
            buf: BytesMut::with_capacity(8 * 1024),
            started: false,
        })
    }

    /// Writes `bytes`. A failed write is classified by what a read then sees: a server that
    /// closed cleanly leaves a FIN to read before its kernel's reset.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Cut> {
        self.started = false;
        let Stream::Full(stream) = &mut self.stream else {
            return Err(Cut::Malformed("a read half cannot send".into()));
        };
        match stream.write_all(bytes).await {
            Ok(()) => Ok(()),
            // The reset is the fact; a read after it would only say "end of stream".
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => Err(Cut::Reset),
            Err(err) => {
                let mut probe = [0u8; 1];
                match stream.read(&mut probe).await {
                    Ok(0) => Err(Cut::Eof),
                    Ok(_) => Err(Cut::from_io(&err)),
                    Err(read_err) => Err(Cut::from_io(&read_err)),
                }
            }
        }
    }

    /// Splits off the write half (for a writer task); the read half keeps the buffer.
    /// `None` if it was split before.
    pub fn into_split(self) -> Option<(Conn, tokio::net::tcp::OwnedWriteHalf)> {
        let Stream::Full(stream) = self.stream else {
            return None;
        };
        let (read, write) = stream.into_split();
        Some((
            Conn {
                stream: Stream::Read(read),
                buf: self.buf,
                started: self.started,
            },
            write,
        ))
    }

    /// Whether a byte of the current response has arrived.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Reads more bytes into the buffer; `Cut::Eof` at the end of the stream.
    async fn fill(&mut self) -> Result<usize, Cut> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(8 * 1024);
        }
        let read = match &mut self.stream {
            Stream::Full(stream) => stream.read_buf(&mut self.buf).await,
            Stream::Read(stream) => stream.read_buf(&mut self.buf).await,
        };
        match read {
            Ok(0) => Err(Cut::Eof),
            Ok(n) => {
                self.started = true;
                Ok(n)
            }
            Err(err) => Err(Cut::from_io(&err)),
        }
    }

    /// Waits until the connection ends without anything being sent on it: `Ok(())` for a
    /// FIN, `Err(Cut::Reset)` for a reset. Bytes that arrive count as a response (`started`).
    pub async fn wait_closed(&mut self) -> Result<(), Cut> {
        loop {
            match self.fill().await {
                Ok(_) => {}
                Err(Cut::Eof) => return Ok(()),
                Err(cut) => return Err(cut),
            }
        }
    }

    /// Reads a response head (skipping `100 Continue`).
    pub async fn read_head(&mut self, method_head: bool) -> Result<Head, Cut> {
        loop {
            if let Some(head) = self.parse_head(method_head)? {
                if head.status == 100 {
                    continue;
                }
                return Ok(head);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Cut::Malformed("a response head over 64 KiB".into()));
            }
            self.fill().await?;
        }
    }

    fn parse_head(&mut self, method_head: bool) -> Result<Option<Head>, Cut> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(&self.buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(err) => return Err(Cut::Malformed(format!("not an HTTP/1.x response ({err})"))),
        };
        let status = response.code.unwrap_or(0);
        let version = response.version.unwrap_or(1);
        let mut close = version == 0;
        let mut length = None;
        let mut chunked = false;
        let mut content_type = None;
        for header in response.headers.iter() {
            let value = String::from_utf8_lossy(header.value).to_ascii_lowercase();
            if header.name.eq_ignore_ascii_case("connection") {
                if value.split(',').any(|token| token.trim() == "close") {
                    close = true;
                }
                if value.split(',').any(|token| token.trim() == "keep-alive") {
                    close = false;
                }
            } else if header.name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
                if length.is_none() {
                    return Err(Cut::Malformed(format!("Content-Length {value:?}")));
                }
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.split(',').any(|token| token.trim() == "chunked");
            } else if header.name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value);
            }
        }
        let framing = if method_head || status < 200 || status == 204 || status == 304 {
            Framing::Empty
        } else if chunked {
            Framing::Chunked
        } else if let Some(length) = length {
            Framing::Length(length)
        } else {
            close = true;
            Framing::UntilClose
        };
        self.buf.advance(len);
        Ok(Some(Head {
            status,
            close,
            framing,
            content_type,
        }))
    }

    /// Reads the whole body; returns its length. `UntilClose` bodies end at the FIN.
    pub async fn read_body(&mut self, framing: Framing) -> Result<u64, Cut> {
        match framing {
            Framing::Empty => Ok(0),
            Framing::Length(length) => {
                let mut left = length;
                loop {
                    let take = left.min(self.buf.len() as u64);
                    self.buf.advance(take as usize);
                    left -= take;
                    if left == 0 {
                        return Ok(length);
                    }
                    self.fill().await?;
                }
            }
            Framing::UntilClose => {
                let mut total = self.buf.len() as u64;
                self.buf.clear();
                loop {
                    match self.fill().await {
                        Ok(n) => {
                            total += n as u64;
                            self.buf.clear();
                        }
                        Err(Cut::Eof) => return Ok(total),
                        Err(cut) => return Err(cut),
                    }
                }
            }
            Framing::Chunked => self.read_chunked().await,
        }
    }

    async fn read_chunked(&mut self) -> Result<u64, Cut> {
        let mut total = 0u64;
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| Cut::Malformed(format!("chunk size {size_text:?}")))?;
            if size == 0 {
                // The last chunk: trailers until an empty line.
                loop {
                    if self.read_line().await?.is_empty() {
                        return Ok(total);
                    }
                }
            }
            let mut left = size;
            while left > 0 {
                if self.buf.is_empty() {
                    self.fill().await?;
                }
                let take = left.min(self.buf.len() as u64);
                self.buf.advance(take as usize);
                left -= take;
            }
            total += size;
            if !self.read_line().await?.is_empty() {
                return Err(Cut::Malformed("no CRLF after a chunk".into()));
            }
        }
    }

    async fn read_line(&mut self) -> Result<String, Cut> {
        loop {
            if let Some(at) = self.buf.iter().position(|&byte| byte == b'\n') {
                let line = self.buf.split_to(at + 1);
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Cut::Malformed("a chunk line over 64 KiB".into()));
            }
            self.fill().await?;
        }
    }

    /// Sends `request` and reads the whole response: its outcome and head.
    pub async fn exchange(&mut self, request: &[u8]) -> (Outcome, Option<Head>) {
        if let Err(cut) = self.send(request).await {
            return (cut.outcome(false), None);
        }
        let head = match self.read_head(false).await {
            Ok(head) => head,
            Err(cut) => return (cut.outcome(self.started), None),
        };
        match self.read_body(head.framing).await {
            Ok(_) => (status_outcome(head.status), Some(head)),
            Err(cut) => (cut.outcome(true), Some(head)),
        }
    }
}

/// The outcome of a complete response with `status`.
pub fn status_outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Ok,
        503 => Outcome::Refused503,
        other => Outcome::OtherStatus(other),
    }
}

/// A `GET path` request that keeps the connection open.
pub fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nuser-agent: winddown-check\r\n\r\n")
        .into_bytes()
}

/// The outcome of a failed connect.
pub fn connect_outcome(err: &io::Error) -> Outcome {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::RefusedAtConnect,
        io::ErrorKind::TimedOut => Outcome::TimedOut,
        _ => Outcome::ResetBeforeResponse,
    }
}
