//! What a client saw: the classification of every request and connection, and the record
//! each scenario writes.
//!
//! A request or connection ends in exactly one [`Outcome`]. The checks (`crate::verdict`)
//! judge a stop from these records and a few instants (the signal, the exit), nothing else:
//! whatever a scenario saw must be in its record.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How one request, stream or connection ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A complete 2xx response (for a stream: its clean end).
    Ok,
    /// A complete 503 response: refused cleanly.
    Refused503,
    /// A complete response with another status.
    OtherStatus(u16),
    /// The TCP connect was refused: nothing listens any more.
    RefusedAtConnect,
    /// The request was sent, then the connection was reset before any byte of a response.
    ResetBeforeResponse,
    /// The response had started, then the connection was reset.
    ResetMidBody,
    /// The request was sent, then the server closed the connection (FIN) before any byte of
    /// a response. For HTTP/1.1 this is the clean close a client may retry on (RFC 9112
    /// §9.3.1); for HTTP/2 a server must send GOAWAY instead.
    EofBeforeResponse,
    /// The response had started, then the connection ended (FIN) before its end: cut.
    EofMidBody,
    /// An HTTP/2 stream refused by GOAWAY (its id above the last one the server will
    /// process) or with `REFUSED_STREAM`: not processed, safe to retry.
    GoawayRefused,
    /// A connection with nothing outstanding (idle, silent, half-sent) that the server
    /// closed (FIN or reset: nothing was lost either way).
    Closed,
    /// A WebSocket got a Close frame with this code.
    WsClose(u16),
    /// A WebSocket got a Close frame without a code.
    WsCloseNoCode,
    /// A WebSocket's connection ended without a Close frame.
    WsNoClose,
    /// The bytes that came back were not HTTP.
    Malformed,
    /// Nothing ended it before the run was over.
    TimedOut,
}

impl Outcome {
    /// The key of this outcome in the JSON `outcomes` object.
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused503 => "refused_503",
            Outcome::OtherStatus(_) => "other_status",
            Outcome::RefusedAtConnect => "refused_at_connect",
            Outcome::ResetBeforeResponse => "reset_before_response",
            Outcome::ResetMidBody => "reset_mid_body",
            Outcome::EofBeforeResponse => "eof_before_response",
            Outcome::EofMidBody => "eof_mid_body",
            Outcome::GoawayRefused => "goaway_refused",
            Outcome::Closed => "closed",
            Outcome::WsClose(1001) => "ws_close_1001",
            Outcome::WsClose(_) => "ws_close_other_code",
            Outcome::WsCloseNoCode => "ws_close_no_code",
            Outcome::WsNoClose => "ws_no_close",
            Outcome::Malformed => "malformed",
            Outcome::TimedOut => "timed_out",
        }
    }

    /// Every key [`Outcome::key`] can return, in the order the scorecard lists them.
    pub const KEYS: [&'static str; 16] = [
        "ok",
        "refused_503",
        "refused_at_connect",
        "goaway_refused",
        "eof_before_response",
        "closed",
        "ws_close_1001",
        "ws_close_other_code",
        "ws_close_no_code",
        "other_status",
        "reset_before_response",
        "reset_mid_body",
        "eof_mid_body",
        "ws_no_close",
        "malformed",
        "timed_out",
    ];

    /// Whether a client lost something: a reset, a cut body, an answer that never came.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            Outcome::ResetBeforeResponse
                | Outcome::ResetMidBody
                | Outcome::EofMidBody
                | Outcome::WsNoClose
                | Outcome::Malformed
                | Outcome::TimedOut
        )
    }

    /// The colour class of this outcome in the SVG: good, refused (clean), lost.
    pub(crate) fn tone(self) -> Tone {
        match self {
            Outcome::Ok | Outcome::WsClose(1001) => Tone::Good,
            Outcome::Refused503
            | Outcome::RefusedAtConnect
            | Outcome::GoawayRefused
            | Outcome::EofBeforeResponse
            | Outcome::Closed
            | Outcome::WsClose(_)
            | Outcome::WsCloseNoCode => Tone::Clean,
            Outcome::OtherStatus(_) => Tone::Odd,
            _ => Tone::Lost,
        }
    }
}

/// The colour class of an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Clean,
    Odd,
    Lost,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Refused503 => f.write_str("refused 503"),
            Outcome::OtherStatus(status) => write!(f, "answered {status}"),
            Outcome::RefusedAtConnect => f.write_str("refused at connect"),
            Outcome::ResetBeforeResponse => f.write_str("reset before response"),
            Outcome::ResetMidBody => f.write_str("reset mid-body"),
            Outcome::EofBeforeResponse => f.write_str("EOF before response"),
            Outcome::EofMidBody => f.write_str("EOF mid-body"),
            Outcome::GoawayRefused => f.write_str("GOAWAY refused"),
            Outcome::Closed => f.write_str("closed"),
            Outcome::WsClose(code) => write!(f, "WebSocket close {code}"),
            Outcome::WsCloseNoCode => f.write_str("WebSocket close without code"),
            Outcome::WsNoClose => f.write_str("WebSocket ended without Close"),
            Outcome::Malformed => f.write_str("not HTTP"),
            Outcome::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Which scenario a record belongs to: one row of the SVG timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// The HTTP/1.1 keep-alive load.
    Http1Load,
    /// The HTTP/2 load.
    Http2Load,
    /// The slow request in flight at the signal, over HTTP/1.1.
    InFlight,
    /// The slow request in flight at the signal, as an HTTP/2 stream.
    Http2InFlight,
    /// An HTTP/2 connection idle at the signal.
    Http2Idle,
    /// A keep-alive connection idle at the signal.
    IdleKeepAlive,
    /// A connection that never sends a byte.
    Silent,
    /// A connection that sent half a request head.
    HalfSentHead,
    /// A request whose body is uploaded slowly.
    SlowUpload,
    /// Requests sent on idle keep-alive connections around the close.
    Race,
    /// The server-sent events stream.
    Sse,
    /// The WebSocket.
    WebSocket,
    /// The readiness probe.
    Readiness,
}

impl Class {
    /// Every class, in the order of the timeline's rows.
    pub const ALL: [Class; 13] = [
        Class::Readiness,
        Class::Http1Load,
        Class::Http2Load,
        Class::InFlight,
        Class::Http2InFlight,
        Class::Race,
        Class::IdleKeepAlive,
        Class::Http2Idle,
        Class::Silent,
        Class::HalfSentHead,
        Class::SlowUpload,
        Class::Sse,
        Class::WebSocket,
    ];

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Class::Http1Load => "HTTP/1.1 load",
            Class::Http2Load => "HTTP/2 load",
            Class::InFlight => "slow request",
            Class::Http2InFlight => "slow HTTP/2 stream",
            Class::Http2Idle => "idle HTTP/2",
            Class::IdleKeepAlive => "idle keep-alive",
            Class::Silent => "silent connection",
            Class::HalfSentHead => "half-sent head",
            Class::SlowUpload => "slow upload",
            Class::Race => "racing requests",
            Class::Sse => "SSE stream",
            Class::WebSocket => "WebSocket",
            Class::Readiness => "readiness probe",
        }
    }
}

/// One request, stream or connection: when it started and ended, and how.
#[derive(Clone, Debug)]
pub struct Record {
    /// The scenario it belongs to.
    pub class: Class,
    /// When the request was sent (or the connection opened).
    pub start: Instant,
    /// When its outcome was known.
    pub end: Instant,
    /// How it ended.
    pub outcome: Outcome,
    /// For HTTP/2: when its connection received GOAWAY, if it did before the end.
    pub goaway: Option<Instant>,
    /// For HTTP/1.1 responses: whether it said `Connection: close`.
    pub close: bool,
    /// A note for the check's detail (what a 404 skipped, a body's framing...).
    pub note: Option<String>,
}

impl Record {
    /// A record with no GOAWAY and no note.
    pub fn new(class: Class, start: Instant, end: Instant, outcome: Outcome) -> Self {
        Record {
            class,
            start,
            end,
            outcome,
            goaway: None,
            close: false,
            note: None,
        }
    }

    /// The same record with a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Where the scenarios put their records. Cloned into every task.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    records: Arc<Mutex<Vec<Record>>>,
}

impl Recorder {
    /// Adds one record.
    pub fn push(&self, record: Record) {
        self.lock().push(record);
    }

    /// How many records there are so far (for the progress line).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there is none yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All records so far.
    pub fn snapshot(&self) -> Vec<Record> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        // A task that panicked while pushing left a valid Vec: keep going.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
