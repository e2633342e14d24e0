//! Output that cannot hold the stop: every line the examples print (progress on stderr, the
//! report on stdout, the signal listener's events) goes through here. Included with `#[path]`
//! by the demo daemons (`examples/demo`) and the HTTP examples.
//!
//! - **Nothing that prints waits.** [`line`] writes the line at once, from the thread that
//!   prints it, when a `write` to the stream cannot block (a regular file, or a pipe or a
//!   terminal opened anew without blocking: see [`Sink`]) and nothing is queued before it;
//!   otherwise it queues the line and returns. A writer thread, started the first time a line
//!   has to wait, writes the queue out, in order, across both streams (so a terminal, or
//!   `2>&1`, shows the lines in the order they were printed). A signal hook, a phase observer
//!   or a closer that prints never blocks on a slow or full pipe, and a stop whose pipes take
//!   its lines wakes no thread to print them.
//! - **A full pipe costs lines, not the stop.** Whoever writes the queue waits at most
//!   [`STALL`] for a stream to take a line (with `poll(2)`; a write never blocks); a stream that
//!   does not is marked stuck, and its lines are dropped, and counted, without waiting, until it
//!   takes one again. The other stream goes on. The queue holds at most [`MAX_QUEUED`] lines;
//!   beyond that, lines are dropped and counted too.
//! - **Nothing printed before the exit is lost** while the pipes are read: [`finish`] writes
//!   what is still queued from the calling thread, once the writer thread is not in the middle
//!   of a write, with the same policy (or waits for the writer thread, for a stream that only it
//!   writes), at most [`FINISH_WAIT`] in all, and says on the other stream how many lines a
//!   stream dropped. Only a third signal, which ends the process inside its signal handler,
//!   skips it.
//!
//! The lines go to duplicates of file descriptors 1 and 2, never through `std::io::stdout`
//! (whose buffer the Rust runtime flushes at the exit, where a full pipe would block it).

use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How long a stream may take to take a line before the line is dropped and the stream marked
/// stuck.
pub(crate) const STALL: Duration = Duration::from_millis(100);

/// How long [`finish`] takes at most to write the queue out.
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

/// Where a stream's lines go.
struct Sink {
    file: File,
    /// A `write` to `file` returns at once (`EAGAIN` when it takes nothing): a regular file, or
    /// a pipe or a terminal opened anew with `O_NONBLOCK` (through `/proc/self/fd`: a file
    /// description of its own, so that the flag does not reach the processes that share the
    /// inherited one). Any thread may write to it. Otherwise (a socket, no `/proc`) a `write`
    /// may block after `poll` said the stream takes it, and only the writer thread writes.
    nonblocking: bool,
}

impl Sink {
    /// The stream on file descriptor `fd`; `None` if it is closed.
    fn open(fd: BorrowedFd<'_>, number: i32) -> Option<Sink> {
        let file = File::from(fd.try_clone_to_owned().ok()?);
        let kind = file.metadata().ok().map(|meta| meta.file_type());
        if kind.is_some_and(|kind| kind.is_file()) {
            // A write to a regular file does not wait for a reader.
            return Some(Sink {
                file,
                nonblocking: true,
            });
        }
        if kind.is_some_and(|kind| kind.is_fifo() || kind.is_char_device()) {
            let reopened = OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
                .open(format!("/proc/self/fd/{number}"));
            if let Ok(file) = reopened {
                return Some(Sink {
                    file,
                    nonblocking: true,
                });
            }
        }
        Some(Sink {
            file,
            nonblocking: false,
        })
    }
}

struct Output {
    /// Standard output and standard error, by [`Stream`].
    sinks: [Option<Sink>; 2],
    state: Mutex<State>,
    /// Signalled when a line is queued for the writer thread, and when a run of lines has been
    /// written (or dropped) from the queue.
    changed: Condvar,
}

struct State {
    /// Lines (or what a stream did not take of one) waiting to be written, in order.
    queue: VecDeque<(Stream, Vec<u8>)>,
    /// A thread (the writer thread, or one in [`finish`]) has taken lines off the queue and not
    /// finished with them: nobody else writes until it has.
    writing: bool,
    /// The writer thread: whether it was started (or could not be).
    writer: Writer,
    /// The writer thread waits for lines: a new one must wake it.
    parked: bool,
    /// Per stream: it did not take a line in time; its lines go only if they can go now.
    stuck: [bool; 2],
    /// Lines dropped, per stream.
    dropped: [u64; 2],
    /// Of those, the ones [`finish`] has said were dropped.
    reported: [u64; 2],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    NotStarted,
    Started,
    /// The thread could not be started: lines that must wait stay queued, and are counted as
    /// dropped at [`finish`].
    Failed,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

fn lock(output: &Output) -> MutexGuard<'_, State> {
    // No code of ours panics while holding it.
    output
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn output() -> &'static Output {
    OUTPUT.get_or_init(|| Output {
        // The streams as files of their own: written without Rust's stdout buffer.
        sinks: [
            Sink::open(io::stdout().as_fd(), 1),
            Sink::open(io::stderr().as_fd(), 2),
        ],
        state: Mutex::new(State {
            queue: VecDeque::new(),
            writing: false,
            writer: Writer::NotStarted,
            parked: false,
            stuck: [false, false],
            dropped: [0, 0],
            reported: [0, 0],
        }),
        changed: Condvar::new(),
    })
}

/// Writes `text` (and a newline, if it has none) to `stream` if it can go now, else queues it
/// for the writer thread; returns at once either way.
pub(crate) fn line(stream: Stream, text: fmt::Arguments<'_>) {
    let mut line = fmt::format(text).into_bytes();
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    let output = output();
    let i = stream as usize;
    let mut state = lock(output);
    let Some(sink) = &output.sinks[i] else {
        state.dropped[i] += 1; // a closed stream
        return;
    };
    if sink.nonblocking && state.queue.is_empty() && !state.writing {
        // Nothing is before it: written here, under the lock, without waiting.
        match write_run(sink, &line, Duration::ZERO) {
            Ok(()) => {
                state.stuck[i] = false;
                return;
            }
            Err(unwritten) if unwritten.broken || state.stuck[i] => {
                state.dropped[i] += 1;
                state.stuck[i] = true;
                return;
            }
            // The stream is full: what it did not take waits for the writer thread, which
            // gives it [`STALL`].
            Err(unwritten) => {
                line.drain(..unwritten.written);
            }
        }
    }
    if state.queue.len() >= MAX_QUEUED {
        state.dropped[i] += 1;
        return;
    }
    state.queue.push_back((stream, line));
    if !state.writing {
        // Else whoever writes takes it next.
        wake_writer(output, &mut state);
    }
}

/// Starts the writer thread, or wakes it if it waits for lines.
fn wake_writer(output: &'static Output, state: &mut State) {
    match state.writer {
        Writer::NotStarted => {
            let spawned = thread::Builder::new()
                .name("output".into())
                .spawn(move || write_out(output));
            state.writer = match spawned {
                Ok(_) => Writer::Started,
                Err(_) => Writer::Failed,
            };
        }
        Writer::Started if state.parked => output.changed.notify_all(),
        Writer::Started | Writer::Failed => {}
    }
}

/// The writer thread: writes the queue out, in order, while no other thread does.
fn write_out(output: &'static Output) {
    let mut state = lock(output);
    loop {
        if state.writing || state.queue.is_empty() {
            state.parked = true;
            state = output
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.parked = false;
            continue;
        }
        state = write_next(output, state, Instant::now() + STALL);
        // Whoever waits in `finish` wants to know.
        output.changed.notify_all();
    }
}

/// Takes the next run of lines for one stream off the queue (up to [`CHUNK`] bytes: one
/// `write`, for a pipe), writes it with the lock released, waiting for the stream until
/// `until` at most (not at all if it is stuck), and counts what was dropped.
fn write_next<'a>(
    output: &'a Output,
    mut state: MutexGuard<'a, State>,
    until: Instant,
) -> MutexGuard<'a, State> {
    let Some((stream, mut run)) = state.queue.pop_front() else {
        return state;
    };
    while let Some((next, line)) = state.queue.front() {
        if *next != stream || run.len() + line.len() > CHUNK {
            break;
        }
        run.extend_from_slice(line);
        state.queue.pop_front();
    }
    let i = stream as usize;
    let wait = if state.stuck[i] {
        Duration::ZERO
    } else {
        until.saturating_duration_since(Instant::now())
    };
    state.writing = true;
    drop(state);
    let written = match &output.sinks[i] {
        Some(sink) => write_run(sink, &run, wait),
        None => Err(Unwritten {
            written: 0,
            broken: true,
        }),
    };
    let mut state = lock(output);
    state.writing = false;
    match written {
        Ok(()) => state.stuck[i] = false,
        Err(unwritten) => {
            state.stuck[i] = true;
            state.dropped[i] += count_lines(&run[unwritten.written..]);
        }
    }
    state
}

/// What a stream did not take of a run of lines.
struct Unwritten {
    /// The bytes it took.
    written: usize,
    /// It failed (a closed pipe), rather than not taking more in time.
    broken: bool,
}

/// Writes `bytes` to `sink` in chunks of at most [`CHUNK`] bytes, waiting with `poll(2)` at
/// most `wait` in all for the stream to take them. A `write` never blocks: `sink` does not
/// block, or `poll` said that the stream takes the chunk.
fn write_run(sink: &Sink, bytes: &[u8], wait: Duration) -> Result<(), Unwritten> {
    let until = Instant::now() + wait;
    let mut written = 0;
    let mut file = &sink.file;
    let stop = |written, broken| Err(Unwritten { written, broken });
    while written < bytes.len() {
        let chunk = &bytes[written..bytes.len().min(written + CHUNK)];
        if !sink.nonblocking {
            if !writable(file, until) {
                return stop(written, false);
            }
            if file.write_all(chunk).is_err() {
                return stop(written, true);
            }
            written += chunk.len();
            continue;
        }
        match file.write(chunk) {
            Ok(0) => return stop(written, true),
            Ok(n) => written += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if !writable(file, until) {
                    return stop(written, false);
                }
            }
            Err(_) => return stop(written, true),
        }
    }
    Ok(())
}

/// Whether `file` takes bytes before `until` (`poll(2)`; not waiting at all once it has come).
fn writable(file: &File, until: Instant) -> bool {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(n) => return n > 0,
            Err(_) => return false,
        }
    }
}

/// The lines in `bytes` (each ends with a newline).
fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64
}

/// Writes out every line queued so far, by `until` at most; `false` if the deadline came
/// first. This thread writes what it may (as the writer thread would, once that thread is not
/// in the middle of a write), so that no thread has to wake up at the exit; it waits for the
/// writer thread only while that thread writes, or for a stream that only it writes.
fn flush(output: &'static Output, until: Instant) -> bool {
    let mut state = lock(output);
    loop {
        let Some((stream, _)) = state.queue.front() else {
            if !state.writing {
                return true;
            }
            state = wait_until(output, state, until);
            if Instant::now() >= until {
                return false;
            }
            continue;
        };
        if Instant::now() >= until {
            return false;
        }
        let ours = output.sinks[*stream as usize]
            .as_ref()
            .map_or(true, |sink| sink.nonblocking);
        if !state.writing && ours {
            state = write_next(output, state, until.min(Instant::now() + STALL));
            continue;
        }
        if !state.writing {
            wake_writer(output, &mut state);
            if state.writer == Writer::Failed {
                return false;
            }
        }
        state = wait_until(output, state, until);
    }
}

/// Waits for a change to the queue, until `until` at most.
fn wait_until<'a>(
    output: &'a Output,
    state: MutexGuard<'a, State>,
    until: Instant,
) -> MutexGuard<'a, State> {
    let left = until.saturating_duration_since(Instant::now());
    output
        .changed
        .wait_timeout(state, left)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .0
}

/// Before the process exits: writes the queue out (at most [`FINISH_WAIT`]), and says on the
/// other stream how many lines a stream dropped, `name` first. Called again, it says only what
/// was dropped since.
pub(crate) fn finish(name: &str) {
    let Some(output) = OUTPUT.get() else {
        return; // nothing was printed
    };
    let until = Instant::now() + FINISH_WAIT;
    let flushed = flush(output, until);
    let lost = {
        let mut state = lock(output);
        let mut dropped = state.dropped;
        // Lines still queued at the deadline are lost with the process.
        for (stream, line) in &state.queue {
            dropped[*stream as usize] += count_lines(line);
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
    if flushed {
        flush(output, until);
    }
}
