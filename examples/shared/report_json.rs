//! `--report-json PATH`: the demo daemons write the report's JSON there, atomically.
//!
//! Included by both daemons (`#[path]`), so the file is written the same way on tokio and
//! on smol: into a temporary file in the same directory, synced, then renamed over `PATH`, so
//! that a reader (a supervisor, a CI job) sees the old file or the whole new one, never half.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use winddown::Report;

/// Writes `report` as JSON (the documented shape, see `winddown::Report`) to `path`.
pub(crate) fn write(path: &Path, report: &Report) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(io::Error::other)?;
    let temporary = temporary_beside(path)?;
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()
    })()
    .and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        // Leave nothing half-written behind.
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// `DIR/.NAME.PID.tmp` for `DIR/NAME`: same directory, so the rename is atomic.
fn temporary_beside(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--report-json needs a file name, not {}", path.display()),
        )
    })?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temporary))
}
