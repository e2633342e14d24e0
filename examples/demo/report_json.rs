//! `--report-json PATH`: the demo daemons write the report's JSON there, atomically.
//!
//! Included by both daemons (`#[path]`), so the file is written the same way on tokio and
//! on smol: into a temporary file in the same directory, synced, then renamed over `PATH`, so
//! that a reader (a supervisor, a CI job) sees the old file or the whole new one, never half.
//! The path is checked when the daemon starts (`cli::parse_args`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use winddown::Report;

/// Writes `report` as JSON (the documented shape, see `winddown::Report`) to `path`.
pub(crate) fn write(path: &Path, report: &Report) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(report).map_err(io::Error::other)?;
    let temporary = crate::cli::report_json_temporary(path);
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
