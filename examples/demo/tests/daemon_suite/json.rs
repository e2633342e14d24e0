//! `--report-json PATH`: the report written as JSON (with the demo's `json` feature).

use nix::sys::signal::Signal;

use super::Daemon;

/// A directory of its own for one test's report file.
fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "winddown-{}-{test}-{}",
        crate::EXAMPLE,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Reads the report the daemon wrote, and checks that nothing else (no temporary file) was
/// left beside it.
fn read_report_json(dir: &std::path::Path) -> serde_json::Value {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the scratch directory")
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        ["report.json"],
        "only the report, renamed into place"
    );
    let text = std::fs::read_to_string(dir.join("report.json")).expect("the report file");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}):\n{text}"))
}

/// `--report-json PATH`: the report in the documented JSON shape (version 2), written
/// atomically, for a clean stop.
#[test]
fn the_report_is_written_as_json() {
    let dir = scratch_dir("json-clean");
    let path = dir.join("report.json");
    let daemon = Daemon::start(&["--report-json", path.to_str().unwrap()]);
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(0), "{out}");
    let json = read_report_json(&dir);
    assert_eq!(json["version"], 2, "{json}");
    assert_eq!(json["status"], "completed");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(
        json["reason"],
        serde_json::json!({"kind": "signal", "signal": 15})
    );
    assert!(json["forced_by"].is_null());
    assert!(json["total_ms"].is_number());
    let phases: Vec<&str> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phase| phase["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "initiated",
            "stopping_new_requests",
            "draining",
            "closing_resources",
            "flushing_buffers",
            "completed"
        ]
    );
    for field in [
        "in_flight_at_start",
        "drained",
        "left",
        "timed_out",
        "skipped",
    ] {
        assert!(!json["drain"][field].is_null(), "drain.{field} in {json}");
    }
    assert!(json["drain"]["still_in_flight"].is_array());
    assert!(json["drain"]["guard_sites"].is_array());
    let resources: Vec<(&str, &str)> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        resources,
        [
            ("job queue", "ok"),
            ("connection pool", "ok"),
            ("cache client", "ok")
        ]
    );
    assert_eq!(json["resources"][1]["kind"], "database");
    assert!(json["resources"][1]["duration_ms"].is_number());
    assert_eq!(json["flushes"][0]["name"], "log file");
    assert_eq!(json["task_failures"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A forced stop and a timed-out one write their report too, with their status and exit code.
#[test]
fn forced_and_timed_out_stops_write_their_json_too() {
    let dir = scratch_dir("json-forced");
    let path = dir.join("report.json");
    let mut daemon = Daemon::start(&[
        "--slow-close",
        "30",
        "--close-timeout",
        "25",
        "--report-json",
        path.to_str().unwrap(),
    ]);
    daemon.signal(Signal::SIGTERM);
    daemon.wait_for_log("connection pool: closing");
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(3), "{out}");
    let json = read_report_json(&dir);
    assert_eq!(json["status"], "forced", "{json}");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["forced_by"], serde_json::json!({"kind": "requested"}));
    assert_eq!(json["resources"][1]["name"], "connection pool");
    assert_eq!(json["resources"][1]["outcome"], "cancelled");
    // The forced flush budget still flushed the log.
    assert_eq!(json["flushes"][0]["outcome"], "ok");
    let _ = std::fs::remove_dir_all(&dir);

    let dir = scratch_dir("json-late");
    let path = dir.join("report.json");
    let daemon = Daemon::start(&[
        "--stuck-close",
        "2",
        "--close-timeout",
        "1",
        "--report-json",
        path.to_str().unwrap(),
    ]);
    daemon.signal(Signal::SIGTERM);
    let (status, out) = daemon.wait();
    assert_eq!(status.code(), Some(2), "{out}");
    let json = read_report_json(&dir);
    assert_eq!(json["status"], "timed_out", "{json}");
    assert_eq!(json["exit_code"], 2);
    let cache = &json["resources"][2];
    assert_eq!(cache["name"], "cache client");
    assert_eq!(cache["outcome"], "late");
    assert_eq!(cache["late_result"], "ok");
    assert!(cache["duration_ms"].as_f64().unwrap() >= 2000.0, "{json}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21, item 8: `--report-json` is checked when the daemon starts: a directory, or a
/// path in a directory that does not exist, fails the start (exit 64, before `ready`), not the
/// stop after it. (Before, the path was first used when the report was written.)
#[test]
fn a_report_path_that_cannot_be_written_fails_the_start() {
    let dir = scratch_dir("json-refused");
    let missing = dir.join("missing").join("report.json");
    for (path, says) in [
        (&dir, "is a directory"),
        (&missing, "cannot create a file in"),
    ] {
        let output = super::daemon_command(&["--report-json", path.to_str().unwrap()])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the daemon");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("ready"),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
