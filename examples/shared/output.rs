//! Output that cannot hold the stop: every line the examples print (progress on stderr, the
//! report on stdout, the signal listener's events) goes through here. Included with `#[path]`
//! by the demo daemons (`examples/demo`) and the HTTP examples.
//!
//! - **Nothing that prints waits.** [`line`] queues the line and returns; one writer thread
//!   writes the queue out, in order, across both streams (so a terminal, or `2>&1`, shows the
//!   lines in the order they were printed). A signal hook, a phase observer or a closer that
//!   prints never blocks on a slow or full pipe.
//! - **A full pipe costs lines, not the stop.** The writer waits at most [`STALL`] for a stream
//!   to take a line (with `poll(2)`, before it writes, so a write never blocks); a stream that
//!   does not is marked stuck, and its lines are dropped, and counted, without waiting, until it
//!   takes one again. The other stream goes on. The queue holds at most [`MAX_QUEUED`] lines;
//!   beyond that, lines are dropped and counted too.
//! - **Nothing printed before the exit is lost** while the pipes are read: [`finish`] waits for
//!   the queue to be written (at most [`FINISH_WAIT`]), and says on the other stream how many
//!   lines a stream dropped. Only a third signal, which ends the process inside its signal
//!   handler, skips it.
//!
//! The writer writes to duplicates of file descriptors 1 and 2, never through `std::io::stdout`
//! (whose buffer the Rust runtime flushes at the exit, where a full pipe would block it).

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How long the writer waits for a stream to take a line before it drops the line and marks
/// the stream stuck.
pub(crate) const STALL: Duration = Duration::from_millis(100);

/// How long [`finish`] waits for the queue to be written.
pub(crate) const FINISH_WAIT: Duration = Duration::from_secs(1);

/// The most lines the queue holds.
pub(crate) const MAX_QUEUED: usize = 4096;

/// The most bytes one `write` is given: a pipe that `poll` says is writable takes this many
/// without blocking (`PIPE_BUF` on Linux).
const CHUNK: usize = 4096;

/// One of the two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output: what the examples print for a reader (`listening on`, the report).
    Out = 0,
    /// Standard error: progress.
    Err = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Out => "stdout",
            Stream::Err => "stderr",
        }
    }

    fn other(self) -> Stream {
        match self {
            Stream::Out => Stream::Err,
            Stream::Err => Stream::Out,
        }
    }
}

struct Output {
    state: Mutex<State>,
    /// Signalled when a line is queued, and when the writer has written (or dropped) one.
    changed: Condvar,
}

struct State {
    queue: VecDeque<(Stream, String)>,
    /// The writer has taken lines off the queue and not finished with them.
    writing: bool,
    /// The writer waits for lines: a new one must wake it (else it is awake, and takes it).
    parked: bool,
    /// Lines dropped, per stream.
    dropped: [u64; 2],
    /// Of those, the ones [`finish`] has said were dropped.
    reported: [u64; 2],
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

fn lock(output: &Output) -> MutexGuard<'_, State> {
    // No code of ours panics while holding it.
    output
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The output, with its writer thread started on first use. If the thread cannot be started,
/// lines stay queued and are counted as dropped at [`finish`].
fn output() -> &'static Output {
    OUTPUT.get_or_init(|| {
        // The streams as files of their own (duplicated descriptors): written without Rust's
        // stdout buffer. A stream that cannot be duplicated (closed) drops its lines.
        let files = [
            io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from),
            io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from),
        ];
        let _ = thread::Builder::new()
            .name("output".into())
            .spawn(move || write_out(files));
        Output {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                writing: false,
                parked: false,
                dropped: [0, 0],
                reported: [0, 0],
            }),
            changed: Condvar::new(),
        }
    })
}

/// Queues `text` (and a newline, if it has none) for `stream`, and returns at once.
pub(crate) fn line(stream: Stream, text: fmt::Arguments<'_>) {
    let mut line = fmt::format(text);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let output = output();
    let mut state = lock(output);
    if state.queue.len() >= MAX_QUEUED {
        state.dropped[stream as usize] += 1;
        return;
    }
    state.queue.push_back((stream, line));
    if state.parked {
        output.changed.notify_all();
    }
}

/// The writer thread: writes the queue out, in order, a run of lines for one stream at a time
/// (up to [`CHUNK`] bytes: one `poll` and one `write`).
fn write_out(files: [Option<File>; 2]) {
    let output = output();
    let mut stuck = [false, false];
    let mut state = lock(output);
    loop {
        let Some((stream, first)) = state.queue.pop_front() else {
            state.writing = false;
            // Whoever waits in `finish` wants to know.
            output.changed.notify_all();
            state.parked = true;
            state = output
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.parked = false;
            continue;
        };
        let mut run = first;
        let mut lines = 1;
        while let Some((next, line)) = state.queue.front() {
            if *next != stream || run.len() + line.len() > CHUNK {
                break;
            }
            run.push_str(line);
            state.queue.pop_front();
            lines += 1;
        }
        state.writing = true;
        drop(state);
        let i = stream as usize;
        // Once a stream is stuck, lines go only if they can go now.
        let wait = if stuck[i] { Duration::ZERO } else { STALL };
        let written = files[i]
            .as_ref()
            .is_some_and(|file| write_line(file, run.as_bytes(), wait));
        stuck[i] = !written;
        state = lock(output);
        if !written {
            state.dropped[i] += lines;
        }
    }
}

/// Writes `bytes` to `file` in chunks that each go in one `write` without blocking, after
/// `poll(2)` said the file takes them; `false` if it did not within `wait`, or a write failed
/// (a closed pipe).
fn write_line(mut file: &File, bytes: &[u8], wait: Duration) -> bool {
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    bytes.chunks(CHUNK).all(|chunk| {
        let ready = loop {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
            match poll(&mut fds, timeout) {
                Err(nix::errno::Errno::EINTR) => continue,
                Ok(n) => break n > 0,
                Err(_) => break false,
            }
        };
        ready && file.write_all(chunk).is_ok()
    })
}

/// Waits until every line queued so far is written or dropped, for at most `until`; `false`
/// if the deadline came first.
fn drain(output: &Output, until: Instant) -> bool {
    let mut state = lock(output);
    while !state.queue.is_empty() || state.writing {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        state = output
            .changed
            .wait_timeout(state, left)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
    true
}

/// Before the process exits: lets the writer finish the queue (at most [`FINISH_WAIT`]), and
/// says on the other stream how many lines a stream dropped, `name` first. Called again, it
/// says only what was dropped since.
pub(crate) fn finish(name: &str) {
    let Some(output) = OUTPUT.get() else {
        return; // nothing was printed
    };
    let until = Instant::now() + FINISH_WAIT;
    let drained = drain(output, until);
    let lost = {
        let mut state = lock(output);
        let mut dropped = state.dropped;
        // Lines still queued at the deadline are lost with the process.
        for (stream, _) in &state.queue {
            dropped[*stream as usize] += 1;
        }
        let lost = [
            dropped[0] - state.reported[0],
            dropped[1] - state.reported[1],
        ];
        state.reported = dropped;
        lost
    };
    for stream in [Stream::Out, Stream::Err] {
        let count = lost[stream as usize];
        if count > 0 {
            line(
                stream.other(),
                format_args!(
                    "{name}: {count} lines to {} dropped: nobody read them in time",
                    stream.name()
                ),
            );
        }
    }
    if drained {
        drain(output, until);
    }
}
