//! The signal handler's writes to the listener's sockets: one byte per delivery, never
//! blocking, to the signal's count socket and to the wake socket (listener invariant 2, (b) and
//! (c)).
//!
//! What signal-hook's `low_level::pipe::register` does for a socket, without what it needs for
//! any other file (a probe of whether `send` works on it, and `fcntl` calls): the sockets here
//! are always `UnixStream`s, made close-on-exec by std, and `send` with `MSG_DONTWAIT` never
//! blocks on them whatever their file status flags.

use std::io;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;

use signal_hook::low_level;
use signal_hook::SigId;

/// Registers, for `signal`, the action that sends one byte to `socket` without blocking. The
/// action owns `socket`; signal-hook drops it with the action, on `unregister`.
///
/// # Errors
///
/// signal-hook's, if the signal number is not valid.
///
/// # Panics
///
/// If `signal` is in signal-hook's `FORBIDDEN` set, which no [`crate::Signal`] is.
#[allow(unsafe_code)]
pub(crate) fn register(signal: i32, socket: UnixStream) -> io::Result<SigId> {
    let action = move || send_byte(&socket);
    // SAFETY: signal-hook requires the action to be async-signal-safe and not to panic.
    // `send_byte` makes one `send` call, which POSIX lists as async-signal-safe, and ignores
    // its result; it allocates nothing, takes no lock, and cannot panic. The captured socket is
    // only read (its descriptor) in the handler; signal-hook drops the closure, and so closes
    // the socket, on `unregister`, on the unregistering thread, after the handlers that may
    // still use it have finished.
    unsafe { low_level::register(signal, action) }
}

/// Sends one byte to `socket` without blocking: a full socket already has bytes for its reader,
/// so a byte that does not fit is not needed.
#[allow(unsafe_code)]
fn send_byte(socket: &UnixStream) {
    // SAFETY: `send` reads one byte from a valid static buffer and does not retain it; the
    // descriptor is the socket's, open for as long as `socket` lives (the whole call).
    unsafe {
        libc::send(
            socket.as_raw_fd(),
            b"X".as_ptr().cast(),
            1,
            libc::MSG_DONTWAIT,
        );
    }
}
