//! The service manager's end of `NOTIFY_SOCKET`, for tests: a datagram socket bound in a
//! directory of its own. Shared by the notifier's unit tests (`adapters/src/systemd/tests.rs`)
//! and the demo daemon's (`examples/demo/tests/systemd.rs`, which includes this file with
//! `#[path]`); every receive waits at most the including module's `PATIENCE`.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use super::PATIENCE;

/// The service manager's end: a datagram socket bound in a directory of its own, removed
/// with it.
pub(super) struct Manager {
    socket: UnixDatagram,
    dir: PathBuf,
}

impl Manager {
    /// A socket in a directory named after the process and `name`.
    pub(super) fn new(name: &str) -> Manager {
        let dir =
            std::env::temp_dir().join(format!("winddown-systemd-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = UnixDatagram::bind(dir.join("notify")).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        Manager { socket, dir }
    }

    /// The socket's path, for `NOTIFY_SOCKET`.
    pub(super) fn path(&self) -> PathBuf {
        self.dir.join("notify")
    }

    /// The next message, waiting at most `PATIENCE`.
    pub(super) fn recv(&self) -> String {
        let mut buf = vec![0; 4096];
        let len = self
            .socket
            .recv(&mut buf)
            .unwrap_or_else(|err| panic!("no message within {PATIENCE:?}: {err}"));
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    /// Every message already received, without waiting.
    pub(super) fn received(&self) -> Vec<String> {
        self.socket.set_nonblocking(true).unwrap();
        let mut messages = Vec::new();
        let mut buf = vec![0; 4096];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(len) => messages.push(String::from_utf8(buf[..len].to_vec()).unwrap()),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("recv: {err}"),
            }
        }
        self.socket.set_nonblocking(false).unwrap();
        messages
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
