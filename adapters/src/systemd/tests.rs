//! The notifier against a real datagram socket bound by the test (the service manager's end).
//!
//! Each test binds its own socket and hands its path to [`Systemd::with_socket`], so tests never
//! touch the process-wide `NOTIFY_SOCKET`; the one test of [`Systemd::from_env`] sets it in a
//! child process. Every receive has a deadline.

use std::time::Duration;

use super::*;
use winddown_core::PhaseRecord;

mod manager;
use manager::Manager;

/// How long any single receive may wait before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// A manager named `name`, and a notifier that sends to it.
fn notifier(name: &str) -> (Manager, Systemd) {
    let manager = Manager::new(name);
    let systemd = Systemd::with_socket(manager.path()).unwrap();
    (manager, systemd)
}

/// The microseconds of an `EXTEND_TIMEOUT_USEC=` line.
#[cfg(feature = "tokio")]
fn extension(line: &str) -> Option<Duration> {
    let usec = line.strip_prefix("EXTEND_TIMEOUT_USEC=")?;
    Some(Duration::from_micros(usec.parse().unwrap()))
}

// ===== The rules, without a socket =====

#[test]
fn lease_is_cut_to_end_at_the_graceful_deadline() {
    let graceful = Duration::from_secs(10);
    assert_eq!(lease(graceful, Duration::ZERO, None), Some(EXTEND_LEASE));
    assert_eq!(
        lease(graceful, Duration::from_millis(8_500), None),
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(lease(graceful, graceful, None), None);
    assert_eq!(lease(graceful, Duration::from_secs(12), None), None);
}

#[test]
fn no_lease_once_the_step_overran_its_own_deadline() {
    let graceful = Duration::from_secs(10);
    let step_end = Some(Duration::from_secs(2));
    assert_eq!(
        lease(graceful, Duration::from_secs(1), step_end),
        Some(EXTEND_LEASE)
    );
    assert_eq!(lease(graceful, Duration::from_secs(2), step_end), None);
    assert_eq!(lease(graceful, Duration::from_secs(3), step_end), None);
}

#[test]
fn the_running_step_bounds_the_lease_and_the_graceful_deadline_bounds_the_gaps() {
    let config = Config::builder()
        .graceful(Duration::from_secs(30))
        .build()
        .unwrap();
    let s = Duration::from_secs;
    let at = |phase| PhaseRecord::new(phase, s(1), Duration::ZERO);
    let mut progress = Progress::default();
    // Not started: nothing to extend.
    assert_eq!(current_step_end(&progress, &config), None);
    // A step under way: its own deadline, from the core.
    progress.phases.push(at(Phase::ClosingResources));
    progress.step_deadline = Some(s(12));
    assert_eq!(current_step_end(&progress, &config), Some(s(12)));
    // Between steps of a stop: the graceful deadline only.
    progress.step_deadline = None;
    assert_eq!(current_step_end(&progress, &config), Some(s(30)));
    // Ended: none.
    progress.phases.push(at(Phase::Completed));
    assert_eq!(current_step_end(&progress, &config), None);
    progress.phases.push(at(Phase::Forced));
    assert_eq!(current_step_end(&progress, &config), None);
}

// ===== Sending =====

#[test]
fn ready_is_one_datagram() {
    let (manager, systemd) = notifier("ready");
    assert!(systemd.is_active());
    systemd.ready();
    assert_eq!(manager.recv(), "READY=1");
    systemd.notify("STATUS=custom").unwrap();
    assert_eq!(manager.recv(), "STATUS=custom");
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_sockets_are_named_with_an_at_sign() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let name = format!("winddown-systemd-test-{}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let manager = UnixDatagram::bind_addr(&address).unwrap();
    manager.set_read_timeout(Some(PATIENCE)).unwrap();

    Systemd::with_socket(format!("@{name}")).unwrap().ready();
    let mut buf = [0; 64];
    let len = manager.recv(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"READY=1");
}

#[test]
fn bad_socket_names_are_refused() {
    assert_eq!(
        Systemd::with_socket("").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    let too_long = format!("/{}", "x".repeat(200));
    assert!(Systemd::with_socket(too_long).is_err());
}

#[test]
fn sending_to_nobody_is_an_error_for_notify_and_ignored_by_ready() {
    let (manager, systemd) = notifier("nobody");
    drop(manager); // the socket file is gone
    assert!(systemd.notify("READY=1").is_err());
    systemd.ready(); // best effort: no panic
}

// ===== Silent when inactive =====

/// A runtime whose timers and tasks panic: a future that completes on it made none.
struct NoTimers;

impl Runtime for NoTimers {
    fn now(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep(&self, _: Duration) -> winddown_core::runtime::BoxFuture<()> {
        panic!("an inactive notifier must not set a timer");
    }

    fn spawn(
        &self,
        _: winddown_core::runtime::BoxFuture<()>,
    ) -> winddown_core::runtime::BoxFuture<winddown_core::runtime::TaskOutcome> {
        panic!("an inactive notifier must not spawn a task");
    }

    fn spawn_detached(&self, _: winddown_core::runtime::BoxFuture<()>) {
        panic!("an inactive notifier must not spawn a task");
    }
}

struct NoWake;

impl std::task::Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn inactive_keepalive_is_ready_at_once_without_a_timer() {
    let plan = Plan::new(winddown_core::Shutdown::new(), Config::default());
    let systemd = Systemd::inactive();
    assert!(!systemd.is_active());
    let mut keepalive = pin!(systemd.serve(&plan, NoTimers));
    let waker = std::task::Waker::from(Arc::new(NoWake));
    let mut cx = Context::from_waker(&waker);
    assert_eq!(keepalive.as_mut().poll(&mut cx), Poll::Ready(()));
    // Fused: polling again is fine.
    assert_eq!(keepalive.as_mut().poll(&mut cx), Poll::Ready(()));
}

/// The half of [`from_env_follows_notify_socket`] that runs in a child process: says ready
/// through `Systemd::from_env()`, and reports whether it was active on stdout.
#[test]
fn from_env_child() {
    if std::env::var_os("WINDDOWN_SYSTEMD_CHILD").is_none() {
        return; // run for real only by `from_env_follows_notify_socket`
    }
    let systemd = Systemd::from_env();
    println!("active={}", systemd.is_active());
    println!("{systemd:?}");
    systemd.ready();
}

/// Starts the test binary again, running only [`from_env_child`], with `NOTIFY_SOCKET` set to
/// `socket` (or unset); returns the child's stdout once it has exited.
fn run_child(socket: Option<&std::path::Path>) -> String {
    run_child_watched(socket, None)
}

/// [`run_child`], with `WATCHDOG_USEC` set to `watchdog_usec` (or unset).
fn run_child_watched(socket: Option<&std::path::Path>, watchdog_usec: Option<&str>) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "systemd::tests::from_env_child", "--nocapture"])
        .env("WINDDOWN_SYSTEMD_CHILD", "1")
        .env_remove("WATCHDOG_PID");
    match watchdog_usec {
        Some(usec) => command.env("WATCHDOG_USEC", usec),
        None => command.env_remove("WATCHDOG_USEC"),
    };
    match socket {
        Some(path) => command.env("NOTIFY_SOCKET", path),
        None => command.env_remove("NOTIFY_SOCKET"),
    };
    let output = command.output().unwrap();
    assert!(output.status.success(), "child failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Issue 21, item 8: `WATCHDOG_USEC=1` asks for a ping every half microsecond: the notifier
/// pings every 10 ms instead, at most. (Before, the smol daemon sent ~36k datagrams a second,
/// at 94% of a core.) A sensible value is kept: half of it.
#[test]
fn a_tiny_watchdog_usec_is_raised_to_the_floor() {
    let manager = Manager::new("watchdog-floor");
    let out = run_child_watched(Some(&manager.path()), Some("1"));
    assert!(out.contains("watchdog: Some(10ms)"), "child said: {out}");
    let out = run_child_watched(Some(&manager.path()), Some("30000000"));
    assert!(out.contains("watchdog: Some(15s)"), "child said: {out}");
}

#[test]
fn from_env_follows_notify_socket() {
    let manager = Manager::new("from-env");

    // Unset: inactive, and nothing arrives at the socket that a set variable would name. The
    // child has exited, so anything it sent is already queued here.
    let out = run_child(None);
    assert!(out.contains("active=false"), "child said: {out}");
    assert_eq!(manager.received(), Vec::<String>::new());

    // Set: active, and its READY=1 arrives.
    let out = run_child(Some(&manager.path()));
    assert!(out.contains("active=true"), "child said: {out}");
    assert_eq!(manager.received(), ["READY=1"]);
}

// ===== With a plan, on tokio =====

#[cfg(feature = "tokio")]
mod on_tokio {
    use std::sync::mpsc;

    use winddown_core::{Reason, Resource, Shutdown, Status};

    use super::*;
    use crate::tokio::TokioRuntime;

    /// A current-thread tokio runtime, with its timer.
    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// How many leases were sent after the close's own message, before the flush's.
    fn renewals_in_the_close(messages: &[String]) -> usize {
        messages
            .iter()
            .skip_while(|m| !m.starts_with("STATUS=closing resources"))
            .skip(1)
            .take_while(|m| !m.starts_with("STATUS=flushing buffers"))
            .filter(|m| extension(m).is_some())
            .count()
    }

    #[test]
    fn a_slow_close_is_reported_in_order_and_extended() {
        let (manager, systemd) = notifier("sequence");
        let shutdown = Shutdown::new();
        let graceful = Duration::from_secs(10);
        let config = Config::builder()
            .graceful(graceful)
            .drain(Duration::from_secs(2))
            .close(Duration::from_secs(4))
            .build()
            .unwrap();
        let plan = Plan::new(shutdown.clone(), config);
        plan.register(Resource::new("pool", || async {
            // Longer than one EXTEND_INTERVAL: at least one renewal falls inside.
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            Ok(())
        }))
        .unwrap();

        let tokio = current_thread();
        let report = tokio.block_on(async {
            let runtime = TokioRuntime::new();
            let keepalive = systemd.serve(&plan, &runtime);
            let app = async {
                shutdown.trigger(Reason::Signal(15));
            };
            let (_, report, ()) = tokio::join!(keepalive, plan.run(&runtime), app);
            report
        });
        assert_eq!(report.status, Status::Completed);

        // Everything was sent before `run` returned: it is all queued.
        let messages = manager.received();
        let lines: Vec<&str> = messages.iter().flat_map(|m| m.lines()).collect();
        let position = |line: &str| {
            lines
                .iter()
                .position(|l| l.starts_with(line))
                .unwrap_or_else(|| panic!("no {line:?} in {lines:#?}"))
        };
        assert_eq!(lines[0], "READY=1");
        assert_eq!(lines[1], "STOPPING=1");
        assert_eq!(lines[2], "STATUS=stopping (signal 15)");
        let phases = [
            "STATUS=initiated, ",
            "STATUS=stopping new requests, ",
            "STATUS=draining, 0 in flight",
            "STATUS=closing resources, ",
            "STATUS=flushing buffers, ",
            "STATUS=completed, ",
        ];
        let at: Vec<usize> = phases.iter().map(|phase| position(phase)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");

        // The close's own message carries a lease, and the timer renews it while it runs.
        let (closing, flushing) = (at[3], at[4]);
        assert!(extension(lines[closing + 1]).is_some(), "{lines:#?}");
        let renewals = renewals_in_the_close(&messages);
        assert!(renewals >= 1, "no renewal during the close: {lines:#?}");
        assert!(flushing > closing + 1);

        // No lease past the graceful deadline, nor longer than one lease.
        for line in &lines {
            if let Some(lease) = extension(line) {
                assert!(!lease.is_zero() && lease <= EXTEND_LEASE, "{line}");
            }
        }
        // Nothing after the end.
        assert!(lines.last().unwrap().starts_with("STATUS=completed"));
    }

    #[test]
    fn no_lease_reaches_past_the_graceful_deadline() {
        let (manager, systemd) = notifier("graceful");
        let shutdown = Shutdown::new();
        // A drain that never ends, a graceful deadline shorter than one lease.
        let graceful = Duration::from_millis(1_200);
        let config = Config::builder()
            .graceful(graceful)
            .drain(Duration::from_millis(1_100))
            .build()
            .unwrap();
        let plan = Plan::new(shutdown.clone(), config);
        let _stuck = shutdown.enter().unwrap();

        let tokio = current_thread();
        let started = std::time::Instant::now();
        let report = tokio.block_on(async {
            let runtime = TokioRuntime::new();
            let keepalive = systemd.serve(&plan, &runtime);
            shutdown.trigger(Reason::Signal(15));
            let (_, report) = tokio::join!(keepalive, plan.run(&runtime));
            report
        });
        let elapsed = started.elapsed();
        assert_eq!(report.status, Status::TimedOut);

        // Each lease was sent at most `elapsed` after the trigger, and asked for no more than
        // the graceful deadline left then: none reaches past trigger + graceful, so every one
        // is below `graceful` and the first is cut short.
        let leases: Vec<Duration> = manager
            .received()
            .iter()
            .flat_map(|m| m.lines().filter_map(extension).collect::<Vec<_>>())
            .collect();
        assert!(!leases.is_empty());
        assert!(leases.iter().all(|lease| *lease <= graceful), "{leases:?}");
        assert!(elapsed < graceful + EXTEND_LEASE);
    }

    #[test]
    fn a_closer_past_its_own_deadline_gets_no_more_time() {
        let (manager, systemd) = notifier("overrun");
        let shutdown = Shutdown::new();
        let config = Config::builder()
            .graceful(Duration::from_secs(20))
            .close(Duration::from_millis(500))
            .build()
            .unwrap();
        let plan = Plan::new(shutdown.clone(), config);
        plan.register(Resource::new("stuck", || async {
            // Blocks the sequence's only thread for five times its deadline: the sequence
            // cannot act on the deadline, so this step is past it, not legitimately slow.
            std::thread::sleep(Duration::from_millis(2_500));
            Ok(())
        }))
        .unwrap();
        systemd.attach(&plan);

        // The keepalive on a thread of its own, so the blocked thread does not stop it.
        let keepalive_thread = std::thread::spawn({
            let plan = plan.clone();
            let systemd = systemd.clone();
            move || {
                let tokio = current_thread();
                tokio.block_on(systemd.keepalive(&plan, TokioRuntime::new()));
            }
        });
        let tokio = current_thread();
        shutdown.trigger(Reason::Signal(15));
        let report = tokio.block_on(plan.run(TokioRuntime::new()));
        keepalive_thread.join().unwrap();
        assert_eq!(report.status, Status::TimedOut); // the closer finished, late

        // Renewals are due about 1 s and 2 s into the 2.5 s block; both fall past the 0.5 s
        // deadline, so none is sent. (One lease, sent when the keepalive saw the trigger, may
        // arrive after the phase's own message: the two threads race for it.)
        let messages = manager.received();
        let renewals = renewals_in_the_close(&messages);
        assert!(
            renewals <= 1,
            "{renewals} renewals past the deadline: {messages:#?}"
        );
    }

    #[test]
    fn watchdog_pings_until_the_stop_is_forced() {
        let (manager, systemd) = notifier("watchdog");
        let systemd = systemd.watchdog(Some(Duration::from_millis(20)));
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());

        let (done, ended) = mpsc::channel();
        let keepalive_thread = std::thread::spawn({
            let plan = plan.clone();
            move || {
                let tokio = current_thread();
                tokio.block_on(systemd.keepalive(&plan, TokioRuntime::new()));
                done.send(()).unwrap();
            }
        });
        // Before any trigger: pings, repeatedly.
        assert_eq!(manager.recv(), "WATCHDOG=1");
        assert_eq!(manager.recv(), "WATCHDOG=1");
        // Forced: the keepalive ends, so the pings stop.
        shutdown.force(Reason::requested());
        ended
            .recv_timeout(PATIENCE)
            .expect("the keepalive did not end when the stop was forced");
        keepalive_thread.join().unwrap();
        let after: Vec<String> = manager.received();
        // Only what was queued before the end: pings and, once triggered, leases.
        assert!(after
            .iter()
            .all(|m| m == "WATCHDOG=1" || m.starts_with("EXTEND_TIMEOUT_USEC=")));
    }
}
