//! WebSockets at the close: the server says "going away" itself. What it does, and why the
//! server rather than a wrapper on the handler's socket, is in the [`server`](super) module
//! docs (`# WebSockets`); this is how.
//!
//! When a request asking for a WebSocket is answered `101`, the connection's socket
//! ([`ConnIo`](super::io::ConnIo)) gets a [`WsIo`]: it finds the end of the `101` head in what
//! goes out ([`HeadScan`]), then follows each direction's frames ([`Frames`]: the headers,
//! the payloads skipped by count), writes the server's Close at a boundary of the handler's
//! frames once it is due, sorts what the handler writes after a Close, and ends the
//! connection when the peer's Close has come after one.
//!
//! # Invariants
//!
//! 1. Bytes pass through [`Frames::feed`] in the order they pass through the socket, each
//!    direction on its own; a direction whose bytes stop looking like frames is marked broken
//!    and never used again to decide anything.
//! 2. The server's Close goes out only when the handler's frames are at a boundary, and only
//!    once. Before the close everything the handler writes passes untouched; after it, once
//!    a Close is out (the server's or the handler's), nothing the handler writes reaches the
//!    socket.
//! 3. The connection is ended (counted, its guard released) by at most one of: the peer's
//!    answer here ([`Registry::close_websocket`]), the cut, the socket's drop.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

use super::connections::ConnShared;
use super::registry::Registry;

/// A Close frame, unmasked (server to client), with code 1001 and no reason.
pub(crate) const GOING_AWAY: [u8; 4] = [0x88, 0x02, 0x03, 0xE9];

const OP_CLOSE: u8 = 0x8;

/// The status line of the response that switches a connection to a WebSocket.
const SWITCHING: &[u8] = b"HTTP/1.1 101 ";
/// The end of a response head.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// How many bytes of the peer's a writer waiting for its Close reads ahead for the handler.
const AHEAD_MAX: usize = 64 * 1024;

/// The most the server reads at once through its own buffer.
const SCRATCH: usize = 8 * 1024;

// ===== impl Frames =====

/// Where one direction of a byte stream is in its WebSocket frames.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The header of the current frame, as much of it as has passed.
    head: [u8; 14],
    have: u8,
    /// Payload bytes of the current frame still to pass (its header is whole).
    left: u64,
    /// Payload bytes of the current frame passed so far.
    offset: u64,
    /// The current frame's opcode and masking key.
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// The first two payload bytes of the current frame (a Close frame's code).
    code: [u8; 2],
    /// Not WebSocket framing: given up on (invariant 1).
    broken: bool,
}

/// A Close frame that has passed whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed {
    /// Its status code; `None` for a Close without one.
    pub(crate) code: Option<u16>,
}

/// The length of a frame header that starts with `b0 b1`.
fn header_len(b1: u8) -> usize {
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    2 + ext + mask
}

impl Frames {
    /// Between two frames (or before the first). (`have` counts a header still being
    /// gathered, `left` a payload still to pass: both zero only between frames.)
    pub(crate) fn at_boundary(&self) -> bool {
        self.have == 0 && self.left == 0
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// How many of `buf`'s bytes end the current frame (or, at a boundary, the frame `buf`
    /// starts), if they are all in `buf`.
    pub(crate) fn frame_end(&self, buf: &[u8]) -> Option<usize> {
        if self.have == 0 && self.left > 0 {
            return usize::try_from(self.left).ok().filter(|&n| n <= buf.len());
        }
        // The header, from what has passed and what `buf` holds.
        let have = usize::from(self.have);
        let mut head = [0u8; 14];
        head[..have].copy_from_slice(&self.head[..have]);
        let b1 = *head
            .get(1)
            .filter(|_| have >= 2)
            .or_else(|| buf.get(1 - have))?;
        let len = header_len(b1);
        let take = len - have;
        if buf.len() < take {
            return None;
        }
        head[have..len].copy_from_slice(&buf[..take]);
        let payload = Self::payload_len(&head[..len])?;
        let end = (take as u64).checked_add(payload)?;
        usize::try_from(end).ok().filter(|&n| n <= buf.len())
    }

    /// The opcode of the frame `buf` starts (at a boundary).
    pub(crate) fn next_opcode(buf: &[u8]) -> Option<u8> {
        buf.first().map(|b0| b0 & 0x0F)
    }

    fn payload_len(head: &[u8]) -> Option<u64> {
        let len = match head[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([head[2], head[3]])),
            127 => {
                let len = u64::from_be_bytes(head[2..10].try_into().ok()?);
                // The most significant bit must be 0 (5.2).
                if len >> 63 != 0 {
                    return None;
                }
                len
            }
            n => u64::from(n),
        };
        Some(len)
    }

    /// Passes `bytes` through; the last Close frame that ended among them, if any.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Option<Closed> {
        let mut closed = None;
        while !bytes.is_empty() && !self.broken {
            if self.left == 0 {
                // Gathering a header.
                let have = usize::from(self.have);
                let len = if have >= 2 {
                    header_len(self.head[1])
                } else {
                    // Two bytes say how long the header is.
                    let take = (2 - have).min(bytes.len());
                    self.head[have..have + take].copy_from_slice(&bytes[..take]);
                    self.have += take as u8;
                    bytes = &bytes[take..];
                    if self.have < 2 {
                        break;
                    }
                    header_len(self.head[1])
                };
                let have = usize::from(self.have);
                let take = (len - have).min(bytes.len());
                self.head[have..have + take].copy_from_slice(&bytes[..take]);
                self.have += take as u8;
                bytes = &bytes[take..];
                if usize::from(self.have) < len {
                    break;
                }
                if let Some(ended) = self.start_frame(len) {
                    closed = Some(ended);
                }
                continue;
            }
            let take = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            // A Close frame's code: its first two payload bytes.
            for (i, byte) in bytes[..take].iter().enumerate() {
                let at = self.offset + i as u64;
                if at >= 2 {
                    break;
                }
                let key = self.mask.map_or(0, |mask| mask[at as usize % 4]);
                self.code[at as usize] = byte ^ key;
            }
            self.offset += take as u64;
            self.left -= take as u64;
            bytes = &bytes[take..];
            if self.left == 0 {
                if let Some(ended) = self.end_frame() {
                    closed = Some(ended);
                }
            }
        }
        closed
    }

    /// A header of `len` bytes is whole: checks it, and ends the frame at once if it has no
    /// payload.
    fn start_frame(&mut self, len: usize) -> Option<Closed> {
        let head = &self.head[..len];
        let opcode = head[0] & 0x0F;
        let control = opcode & 0x8 != 0;
        let Some(payload) = Self::payload_len(head) else {
            self.broken = true;
            return None;
        };
        let reserved = matches!(opcode, 0x3..=0x7 | 0xB..=0xF);
        // Control frames are whole (FIN) and short (5.5).
        if reserved || (control && (head[0] & 0x80 == 0 || payload > 125)) {
            self.broken = true;
            return None;
        }
        self.opcode = opcode;
        self.mask = (head[1] & 0x80 != 0).then(|| {
            let at = len - 4;
            [head[at], head[at + 1], head[at + 2], head[at + 3]]
        });
        self.offset = 0;
        self.left = payload;
        // The header is whole and read: from here on the frame is its payload.
        self.have = 0;
        if payload == 0 {
            return self.end_frame();
        }
        None
    }

    fn end_frame(&mut self) -> Option<Closed> {
        self.have = 0;
        if self.opcode != OP_CLOSE {
            return None;
        }
        let code = (self.offset >= 2).then(|| u16::from_be_bytes(self.code));
        Some(Closed { code })
    }

    /// The opcode of the frame in progress (`None` at a boundary).
    fn current_opcode(&self) -> Option<u8> {
        if self.left > 0 {
            Some(self.opcode)
        } else if self.have > 0 {
            Some(self.head[0] & 0x0F)
        } else {
            None
        }
    }
}

// ===== impl HeadScan =====

/// Finds the end of the `101` response head in what the server writes: `HTTP/1.1 101 `, then
/// the blank line. A needle's first byte occurs in it only there, so a mismatch restarts the
/// match at that byte.
#[derive(Debug, Default)]
struct HeadScan {
    status: u8,
    end: u8,
}

impl HeadScan {
    fn done(&self) -> bool {
        usize::from(self.end) == HEAD_END.len()
    }

    /// How many of `bytes` belong to the head (all of them, until it is done).
    fn scan(&mut self, bytes: &[u8]) -> usize {
        for (i, &byte) in bytes.iter().enumerate() {
            if usize::from(self.status) < SWITCHING.len() {
                self.status = step(SWITCHING, self.status, byte);
                continue;
            }
            self.end = step(HEAD_END, self.end, byte);
            if self.done() {
                return i + 1;
            }
        }
        bytes.len()
    }
}

fn step(needle: &[u8], matched: u8, byte: u8) -> u8 {
    if needle[usize::from(matched)] == byte {
        matched + 1
    } else {
        u8::from(needle[0] == byte)
    }
}

// ===== impl WsIo =====

/// The error a handler's write of a data frame gets once the server's Close has been answered
/// (or the peer left).
fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the WebSocket is closed: the server sent Close 1001 at the shutdown",
    )
}

/// One WebSocket connection's frames, as its socket sees them.
#[derive(Debug, Default)]
pub(crate) struct WsIo {
    head: HeadScan,
    /// The handler's frames.
    out: Frames,
    /// The peer's frames.
    inp: Frames,
    /// Bytes of [`GOING_AWAY`] written.
    injected: usize,
    /// The code of the Close that went out (the server's, or the handler's own); `Some` once
    /// one has.
    sent: Option<Option<u16>>,
    /// The peer's Close has arrived.
    peer_closed: bool,
    /// The handshake is done and the connection counted (invariant 3).
    done: bool,
    /// The write side is shut down (after `done`).
    shut: bool,
    /// The peer's bytes read while a writer waited for its Close, for the handler's reads.
    ahead: Vec<u8>,
    ahead_at: usize,
}

impl WsIo {
    /// Whether the close has come and the server must say "going away".
    fn close_due(shared: &ConnShared) -> bool {
        shared.websocket_close_due()
    }

    /// A Close went out, ours or the handler's.
    fn close_out(&self) -> bool {
        self.sent.is_some()
    }

    /// Bytes the handler wrote have gone out: `bytes`.
    fn wrote(&mut self, bytes: &[u8], shared: &ConnShared, registry: &Registry) {
        let bytes = if self.head.done() {
            bytes
        } else {
            let head = self.head.scan(bytes);
            &bytes[head..]
        };
        if bytes.is_empty() {
            return;
        }
        // The handler's own Close counts once it has gone out whole: until then the rest of
        // it must still reach the socket.
        if let Some(closed) = self.out.feed(bytes) {
            if !self.close_out() {
                self.sent = Some(closed.code);
                shared.websocket_sent();
                self.check_done(shared, registry);
            }
        }
    }

    /// The peer's `bytes` have been read.
    fn read(&mut self, bytes: &[u8], shared: &ConnShared, registry: &Registry) {
        if self.inp.feed(bytes).is_some() {
            self.peer_closed = true;
            self.check_done(shared, registry);
        }
    }

    /// Ends the connection if a Close went out after the close and the peer's has come.
    fn check_done(&mut self, shared: &ConnShared, registry: &Registry) {
        if self.done || !self.peer_closed || !self.close_out() || !Self::close_due(shared) {
            return;
        }
        self.done = true;
        let going_away = matches!(self.sent, Some(Some(1001)));
        registry.close_websocket(shared, going_away);
        // A writer waiting for this answer fails now; a reader finds the end.
        shared.wake_writer();
        shared.wake_reader();
    }

    /// Writes the server's Close.
    fn poll_inject<I: Write>(
        &mut self,
        mut inner: Pin<&mut I>,
        cx: &mut Context<'_>,
        shared: &ConnShared,
        registry: &Registry,
    ) -> Poll<io::Result<()>> {
        while self.injected < GOING_AWAY.len() {
            let n = std::task::ready!(inner.as_mut().poll_write(cx, &GOING_AWAY[self.injected..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.injected += n;
        }
        // Pushed on its way (a TLS stream holds what it encrypts until flushed); a flush that
        // must wait is finished by the next write or flush.
        let _ = inner.as_mut().poll_flush(cx);
        self.sent = Some(Some(1001));
        shared.websocket_sent();
        self.check_done(shared, registry);
        Poll::Ready(Ok(()))
    }

    /// Whether the server's Close can go out now: due, not out yet, the handler's frames at a
    /// boundary and followed.
    fn may_inject(&self, shared: &ConnShared) -> bool {
        self.head.done()
            && !self.close_out()
            && !self.out.is_broken()
            && self.out.at_boundary()
            && Self::close_due(shared)
    }

    /// Shuts the write side once the handshake is done (the server closes first).
    fn poll_shut<I: Write>(&mut self, inner: Pin<&mut I>, cx: &mut Context<'_>) {
        if self.done && !self.shut {
            // Best effort: a stream whose shutdown must wait finishes it with its next poll,
            // or closes when the handler drops it.
            if inner.poll_shutdown(cx).is_ready() {
                self.shut = true;
            }
        }
    }

    /// A write of the handler's (`buf`), on the WebSocket's socket.
    pub(crate) fn poll_write<I: Read + Write>(
        &mut self,
        mut inner: Pin<&mut I>,
        cx: &mut Context<'_>,
        buf: &[u8],
        shared: &ConnShared,
        registry: &Registry,
    ) -> Poll<io::Result<usize>> {
        self.poll_shut(inner.as_mut(), cx);
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Until the close, everything passes untouched.
        let passing = !self.head.done() || self.out.is_broken() || !Self::close_due(shared);
        if passing {
            let n = std::task::ready!(inner.poll_write(cx, buf))?;
            self.wrote(&buf[..n], shared, registry);
            return Poll::Ready(Ok(n));
        }
        if !self.close_out() {
            if !self.out.at_boundary() {
                // Finish the frame in progress, no further: the Close goes right after it.
                let end = self.out.frame_end(buf).unwrap_or(buf.len());
                let n = std::task::ready!(inner.poll_write(cx, &buf[..end]))?;
                self.wrote(&buf[..n], shared, registry);
                return Poll::Ready(Ok(n));
            }
            std::task::ready!(self.poll_inject(inner.as_mut(), cx, shared, registry))?;
        }
        // A Close is out: nothing more of the handler's reaches the socket (invariant 2).
        let control = match self.out.current_opcode() {
            Some(opcode) => opcode & 0x8 != 0,
            None => Frames::next_opcode(buf).is_some_and(|opcode| opcode & 0x8 != 0),
        };
        if control {
            // Its own Close (answering the peer's), a Pong: dropped.
            let end = self.out.frame_end(buf).unwrap_or(buf.len());
            self.wrote(&buf[..end], shared, registry);
            return Poll::Ready(Ok(end));
        }
        // A data frame: it waits for the peer's Close (read here, kept for the handler's
        // reads), then fails.
        std::task::ready!(self.poll_read_ahead(inner, cx, shared, registry));
        Poll::Ready(Err(closed_error()))
    }

    /// Reads the peer's bytes ahead, until its Close (or its end); ready then.
    fn poll_read_ahead<I: Read + Write>(
        &mut self,
        mut inner: Pin<&mut I>,
        cx: &mut Context<'_>,
        shared: &ConnShared,
        registry: &Registry,
    ) -> Poll<()> {
        loop {
            if self.done || self.inp.is_broken() {
                return Poll::Ready(());
            }
            if self.ahead.len() - self.ahead_at >= AHEAD_MAX {
                // The handler's reads must take some first (they wake this writer if they
                // find the Close); otherwise the close timeout or the drain deadline cuts.
                return Poll::Pending;
            }
            if self.ahead_at > 0 {
                self.ahead.drain(..self.ahead_at);
                self.ahead_at = 0;
            }
            let mut scratch = [0u8; SCRATCH];
            let mut buf = ReadBuf::new(&mut scratch);
            match inner.as_mut().poll_read(cx, buf.unfilled()) {
                Poll::Ready(Ok(())) => {}
                // The peer left, or its socket failed: the write fails, and the handler's
                // next read finds the same.
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
            let got = buf.filled();
            if got.is_empty() {
                return Poll::Ready(());
            }
            self.ahead.extend_from_slice(got);
            self.read(got, shared, registry);
            // A reader waiting on the socket finds these bytes here.
            shared.wake_reader();
            self.poll_shut(inner.as_mut(), cx);
        }
    }

    /// A read of the handler's, on the WebSocket's socket.
    pub(crate) fn poll_read<I: Read + Write>(
        &mut self,
        mut inner: Pin<&mut I>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
        shared: &ConnShared,
        registry: &Registry,
    ) -> Poll<io::Result<()>> {
        if self.may_inject(shared) {
            // A handler waiting to read is woken at the close for this. A write that must
            // wait leaves it to the next poll (this one's waker waits for the socket too).
            if let Poll::Ready(Err(err)) = self.poll_inject(inner.as_mut(), cx, shared, registry) {
                return Poll::Ready(Err(err));
            }
        }
        self.poll_shut(inner.as_mut(), cx);
        if self.ahead_at < self.ahead.len() {
            let n = buf.remaining().min(self.ahead.len() - self.ahead_at);
            buf.put_slice(&self.ahead[self.ahead_at..self.ahead_at + n]);
            self.ahead_at += n;
            return Poll::Ready(Ok(()));
        }
        if self.done {
            // The handshake is done: the end of the stream.
            return Poll::Ready(Ok(()));
        }
        let mut scratch = [0u8; SCRATCH];
        let want = buf.remaining().min(SCRATCH);
        let mut mine = ReadBuf::new(&mut scratch[..want]);
        std::task::ready!(inner.as_mut().poll_read(cx, mine.unfilled()))?;
        let got = mine.filled();
        self.read(got, shared, registry);
        buf.put_slice(got);
        self.poll_shut(inner, cx);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: `fin`, `opcode`, the payload, masked with `mask` if given.
    fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        let masked = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(masked | n as u8),
            n if n <= 0xFFFF => {
                out.push(masked | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(masked | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    #[test]
    fn a_close_frame_is_found_in_any_split_with_its_code() {
        let mut stream = frame(0x1, b"hello", Some([1, 2, 3, 4]));
        stream.extend(frame(0x2, &vec![7u8; 300], Some([9, 8, 7, 6])));
        stream.extend(frame(0x9, b"ping", Some([5, 5, 5, 5])));
        stream.extend(frame(
            0x8,
            &[0x03, 0xE8, b'b', b'y', b'e'],
            Some([0xAA, 0xBB, 0xCC, 0xDD]),
        ));
        for split in 1..stream.len() {
            let mut frames = Frames::default();
            let mut closed = None;
            for chunk in stream.chunks(split) {
                if let Some(found) = frames.feed(chunk) {
                    closed = Some(found);
                }
            }
            assert_eq!(closed, Some(Closed { code: Some(1000) }), "split {split}");
            assert!(frames.at_boundary());
            assert!(!frames.is_broken());
        }
    }

    #[test]
    fn frame_end_counts_the_header_and_the_payload() {
        let long = frame(0x2, &vec![1u8; 70_000], None);
        let frames = Frames::default();
        assert_eq!(frames.frame_end(&long), Some(long.len()));
        assert_eq!(frames.frame_end(&long[..5]), None);
        let mut frames = Frames::default();
        frames.feed(&long[..3]);
        assert_eq!(frames.frame_end(&long[3..]), Some(long.len() - 3));
        frames.feed(&long[3..20]);
        assert_eq!(frames.frame_end(&long[20..]), Some(long.len() - 20));
        assert_eq!(frames.frame_end(&long[20..100]), None);
        let empty = frame(0x8, &[], None);
        assert_eq!(Frames::default().frame_end(&empty), Some(2));
        let mut frames = Frames::default();
        assert_eq!(frames.feed(&empty), Some(Closed { code: None }));
    }

    #[test]
    fn frame_end_finds_the_next_boundary_from_anywhere() {
        let frames = [
            frame(0x1, b"hi", None),
            frame(0x2, &vec![3u8; 300], Some([1, 2, 3, 4])),
            frame(0x9, b"", None),
            frame(0x2, &vec![5u8; 70_000], None),
            frame(0x8, &[0x03, 0xE9], None),
        ];
        let stream: Vec<u8> = frames.concat();
        let mut ends = Vec::new();
        let mut at = 0;
        for frame in &frames {
            at += frame.len();
            ends.push(at);
        }
        for step in [1, 7, 1000] {
            let mut parser = Frames::default();
            let mut pos = 0;
            while pos < stream.len() {
                let next = *ends.iter().find(|&&end| end > pos).unwrap();
                assert_eq!(
                    parser.at_boundary(),
                    ends.contains(&pos) || pos == 0,
                    "at {pos}"
                );
                assert_eq!(
                    parser.frame_end(&stream[pos..]),
                    Some(next - pos),
                    "at {pos}"
                );
                let upto = (pos + step).min(stream.len());
                parser.feed(&stream[pos..upto]);
                pos = upto;
            }
            assert!(parser.at_boundary());
        }
    }

    #[test]
    fn what_is_not_framing_is_given_up_on() {
        let mut frames = Frames::default();
        // Opcode 0x3 is reserved.
        frames.feed(&[0x83, 0x00]);
        assert!(frames.is_broken());
        // A control frame longer than 125 bytes.
        let mut frames = Frames::default();
        frames.feed(&frame(0x9, &[0u8; 126], None));
        assert!(frames.is_broken());
    }

    #[test]
    fn the_head_of_the_101_is_found_across_writes() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec();
        bytes.extend_from_slice(head);
        bytes.extend_from_slice(&[0x81, 0x00]);
        for split in 1..bytes.len() {
            let mut scan = HeadScan::default();
            let mut passed = 0;
            for chunk in bytes.chunks(split) {
                if scan.done() {
                    break;
                }
                passed += scan.scan(chunk);
            }
            assert!(scan.done());
            assert_eq!(passed, bytes.len() - 2, "split {split}");
        }
    }
}
