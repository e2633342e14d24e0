//! systemd's service notifications (`sd_notify(3)`): readiness, stopping, status, a stop
//! timeout that grows while the shutdown is legitimately slow, and the watchdog.
//!
//! A service of `Type=notify` tells systemd how it is doing through datagrams sent to the socket
//! named by `NOTIFY_SOCKET`. [`Systemd`] sends them from the shutdown's own events:
//!
//! | message | when | from |
//! |---|---|---|
//! | `READY=1` | the service starts serving | [`Systemd::ready`]; the run helpers call it |
//! | `STOPPING=1` | the trigger, before `trigger` returns | a [`Shutdown::on_trigger`] hook |
//! | `STATUS=<phase>, <n> in flight` | each phase of the sequence | a [`Plan::on_phase`] observer |
//! | `EXTEND_TIMEOUT_USEC=…` | each phase change, then every second | the observer, and [`Systemd::keepalive`] |
//! | `WATCHDOG=1` | every half `WATCHDOG_USEC`, until the stop ends or is forced | [`Systemd::keepalive`] |
//!
//! # The stop timeout
//!
//! systemd kills a service whose stop outlasts `TimeoutStopSec=` (90 s by default).
//! `EXTEND_TIMEOUT_USEC=` lets a stop go on past that, for as long as the service keeps sending
//! it: each one is a lease ("send the next message within this time"). winddown sends one at
//! each phase change and then every second, each for three seconds (so that two late ticks on a
//! busy runtime do not lose it; a few datagrams a second cost systemd nothing), but only
//!
//! - while the step that is running (the pre-stop delay, the drain, the closer running now,
//!   the flush phase) is within its own deadline: a step that overran it (a closer blocking its
//!   thread) is not legitimately slow, and systemd's own timeout applies again once the last
//!   lease ends;
//! - and never past the plan's [graceful deadline](winddown_core::Config::graceful), measured
//!   from the trigger: the last lease is cut to end there. The trigger is timed by the
//!   `on_trigger` hook, at or before the moment the sequence starts its own clock, so this
//!   bound is never later than the sequence's.
//!
//! So `TimeoutStopSec=` only has to cover what winddown does not bound (a process that never
//! triggers, a stuck runtime), not the longest legitimate stop. A unit for such a service:
//!
//! ```ini
//! [Service]
//! Type=notify
//! ExecStart=/usr/local/bin/my-service
//! # Shorter than the plan's graceful deadline: the leases cover a slow stop that is within
//! # its deadlines, this covers one that is not.
//! TimeoutStopSec=10
//! # Optional: WATCHDOG=1 every 15 s.
//! WatchdogSec=30
//! ```
//!
//! # Silent when `NOTIFY_SOCKET` is unset
//!
//! [`Systemd::from_env`] without `NOTIFY_SOCKET` (the service is not run by systemd, or not as
//! `Type=notify`) is [inactive](Systemd::is_active): [`attach`](Systemd::attach) registers no
//! hook, [`ready`](Systemd::ready) sends nothing, and [`keepalive`](Systemd::keepalive) returns
//! a future that completes at its first poll without touching a timer. No thread, no timer, no
//! task, no socket.
//!
//! # Examples
//!
//! With the run helpers there is nothing to do: with this feature on,
//! [`run_until_shutdown`](crate::run_until_shutdown) (and each runtime's shorthand) does all
//! of it through [`Systemd::from_env`]. Without them:
//!
//! ```
//! use winddown::systemd::Systemd;
//! use winddown::tokio::TokioRuntime;
//! use winddown::{Config, Plan, Reason, Shutdown};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::default());
//! let systemd = Systemd::from_env(); // inactive unless run by systemd
//! systemd.attach(&plan); // STOPPING=1, STATUS=, EXTEND_TIMEOUT_USEC= at phase changes
//! let keepalive = tokio::spawn(systemd.keepalive(&plan, TokioRuntime::new()));
//!
//! // ... start serving, then:
//! systemd.ready();
//! # shutdown.trigger(Reason::requested());
//! let report = plan.run(TokioRuntime::new()).await;
//! keepalive.await.unwrap(); // it ends with the sequence
//! # }
//! ```
//!
//! # Limitations
//!
//! - Unix only: on other targets every [`Systemd`] is inactive. Abstract sockets (`@name`)
//!   need Linux.
//! - Credentials are not sent explicitly (the kernel passes them when systemd asks with
//!   `SO_PASSCRED`), and messages are not sent on behalf of another process.
//! - The watchdog is pinged by a timer on the runtime: it proves the runtime still runs
//!   timers, not that the service does useful work.
//!
//! # Why not the `sd-notify` crate
//!
//! `sd-notify` 0.5 needs Rust 1.82 (this crate supports 1.81), reads `NOTIFY_SOCKET` on every
//! call (so a test cannot point it at a socket of its own without changing the process-wide
//! environment under other tests), and connects to the variable's value as a file path, so
//! an abstract socket (`@name`) does not work. The protocol is one datagram per message:
//! [`std::os::unix::net::UnixDatagram`] is enough.
//!
//! [`Shutdown::on_trigger`]: winddown_core::Shutdown::on_trigger

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use winddown_core::runtime::Runtime;
use winddown_core::Progress;
use winddown_core::{Config, Phase, Plan};

// How often `Systemd::keepalive` renews the stop timeout's extension while the sequence runs:
// once a second, often enough that a lease of `EXTEND_LEASE` survives two late ticks, rare
// enough to cost nothing (systemd handles a few datagrams a second from every service).
const EXTEND_INTERVAL: Duration = Duration::from_secs(1);

// How long each `EXTEND_TIMEOUT_USEC=` asks for: three `EXTEND_INTERVAL`s (less when the
// graceful deadline is nearer).
const EXTEND_LEASE: Duration = Duration::from_secs(3);

/// systemd's notifications for one service: readiness, stopping, status, stop-timeout
/// extensions and watchdog pings. See the [module docs](self) for what is sent when.
///
/// A cheap handle (clone it freely); [inactive](Self::is_active) when made from an environment
/// without `NOTIFY_SOCKET`, and then every method does nothing.
///
/// # Comparison to `sd_notify(3)`
///
/// `sd_notify` sends one message when called; `Systemd` is tied to a [`Plan`] and sends the
/// stop's messages itself, bounded by the plan's deadlines. [`notify`](Self::notify) sends any
/// other message.
#[derive(Clone, Default)]
pub struct Systemd {
    /// `None`: inactive.
    inner: Option<Arc<Inner>>,
}

struct Inner {
    socket: Socket,
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`.
    watchdog: Option<Duration>,
    /// The trigger, as seen by the `on_trigger` hook (or the start of the sequence, if earlier:
    /// a handle attached after the trigger).
    triggered_at: Mutex<Option<Instant>>,
}

// ===== impl Systemd =====

impl Systemd {
    /// The notifier systemd asked for through the environment: the socket in `NOTIFY_SOCKET`,
    /// and the watchdog in `WATCHDOG_USEC` (when `WATCHDOG_PID` is unset or this process's).
    ///
    /// Inactive when `NOTIFY_SOCKET` is unset or empty, names neither a path (`/…`) nor an
    /// abstract socket (`@…`), or the socket cannot be made; inactive on non-Unix targets.
    /// The variables are read here, once, and left set (removing them is not thread-safe).
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// let systemd = Systemd::from_env();
    /// println!("notifying systemd: {}", systemd.is_active());
    /// ```
    pub fn from_env() -> Self {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET").filter(|path| !path.is_empty()) else {
            return Systemd::inactive();
        };
        let Ok(systemd) = Systemd::with_socket(&path) else {
            return Systemd::inactive();
        };
        systemd.watchdog(watchdog_from_env())
    }

    /// A notifier that sends to the socket at `path`, as `NOTIFY_SOCKET` would name it (a path,
    /// or `@name` for an abstract socket on Linux), without a watchdog. For tests, and for a
    /// service that was told its socket some other way.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `path` is empty, too long for a socket address, or an
    /// abstract name off Linux; [`io::ErrorKind::Unsupported`] off Unix; or the error from
    /// creating the socket. Nothing is sent here: a missing listener shows up when sending.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixDatagram;
    /// use winddown::systemd::Systemd;
    ///
    /// let dir = std::env::temp_dir().join(format!("winddown-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("notify");
    /// # let _ = std::fs::remove_file(&path);
    /// let manager = UnixDatagram::bind(&path)?; // the service manager's end
    ///
    /// let systemd = Systemd::with_socket(&path)?;
    /// systemd.ready();
    /// let mut buf = [0; 64];
    /// let len = manager.recv(&mut buf)?;
    /// assert_eq!(&buf[..len], b"READY=1");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_socket(path: impl AsRef<std::ffi::OsStr>) -> io::Result<Self> {
        let socket = Socket::new(path.as_ref())?;
        Ok(Systemd {
            inner: Some(Arc::new(Inner {
                socket,
                watchdog: None,
                triggered_at: Mutex::new(None),
            })),
        })
    }

    /// A notifier that sends nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// assert!(!Systemd::inactive().is_active());
    /// ```
    pub fn inactive() -> Self {
        Systemd { inner: None }
    }

    /// Sets how often [`keepalive`](Self::keepalive) sends `WATCHDOG=1` (`None`: never).
    /// [`from_env`](Self::from_env) sets half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// advises. A period under 10 ms is raised to 10 ms: at most 100 pings a second, whatever
    /// `WATCHDOG_USEC` says (a watchdog that short cannot be kept anyway, and pinging it as
    /// often as it asks would take a core). No effect on an inactive notifier; call it before
    /// handing out clones (it changes only a notifier that has none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use winddown::systemd::Systemd;
    /// let systemd = Systemd::from_env().watchdog(Some(Duration::from_secs(5)));
    /// ```
    #[must_use = "`watchdog` returns the changed notifier"]
    pub fn watchdog(mut self, every: Option<Duration>) -> Self {
        if let Some(inner) = self.inner.as_mut().and_then(Arc::get_mut) {
            inner.watchdog = every
                .filter(|every| !every.is_zero())
                .map(|every| every.max(MIN_WATCHDOG_PERIOD));
        }
        self
    }

    /// Whether this notifier sends anything.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// if !Systemd::from_env().is_active() {
    ///     eprintln!("not run by systemd as Type=notify");
    /// }
    /// ```
    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends one message: newline-separated `KEY=value` assignments, as in `sd_notify(3)`.
    /// `Ok(())` without sending when inactive.
    ///
    /// # Errors
    ///
    /// The error from sending the datagram (for example, nobody listens on the socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// Systemd::from_env().notify("STATUS=warming the cache")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify(&self, message: &str) -> io::Result<()> {
        match &self.inner {
            Some(inner) => inner.socket.send(message),
            None => Ok(()),
        }
    }

    /// Tells systemd the service is ready (`READY=1`): call it when the service starts
    /// serving. [`run_until_shutdown`](crate::run_until_shutdown) calls it (through
    /// [`from_env`](Self::from_env)) when it starts the application. Best effort: a failure to
    /// send is ignored (use [`notify`](Self::notify) to see it).
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// // ... bind the listeners, then:
    /// Systemd::from_env().ready();
    /// ```
    pub fn ready(&self) {
        let _ = self.notify("READY=1");
    }

    /// Ties the notifier to `plan`: `STOPPING=1` when its shutdown is triggered (from a
    /// [`Shutdown::on_trigger`] hook, on the triggering thread, before `trigger` returns), and
    /// at each phase of the sequence `STATUS=<phase>, <n> in flight` with an
    /// `EXTEND_TIMEOUT_USEC=` lease (see the [module docs](self#the-stop-timeout)), from a
    /// [`Plan::on_phase`] observer. Registers nothing when inactive.
    ///
    /// Call it once per plan, before the sequence starts (observers added later are not
    /// called). The run helpers do it themselves: do not attach a plan that you run with
    /// them, or each message is sent twice.
    ///
    /// [`Shutdown::on_trigger`]: winddown_core::Shutdown::on_trigger
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown::systemd::Systemd;
    /// use winddown::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// Systemd::from_env().attach(&plan);
    /// ```
    pub fn attach(&self, plan: &Plan) {
        let Some(inner) = &self.inner else { return };
        plan.shutdown().on_trigger({
            let inner = inner.clone();
            move |reason| {
                inner.mark_trigger(Instant::now());
                let _ = inner
                    .socket
                    .send(&format!("STOPPING=1\nSTATUS=stopping ({reason})"));
            }
        });
        let inner = inner.clone();
        let shutdown = plan.shutdown().clone();
        let config = *plan.config();
        plan.on_phase(move |phase, at| {
            let now = Instant::now();
            // The sequence's clock started `at` ago: the trigger was no later than that.
            inner.mark_trigger(now.checked_sub(at).unwrap_or(now));
            let mut message = format!("STATUS={phase}, {} in flight", shutdown.in_flight());
            // A phase that has just started is within its own deadline; one that ends the stop
            // (completed, forced) asks for no more time.
            let stopping = stopping(phase);
            if let Some(lease) = inner
                .since_trigger(now)
                .filter(|_| stopping)
                .and_then(|t| lease(config.graceful(), t, None))
            {
                message.push_str(&format!("\nEXTEND_TIMEOUT_USEC={}", lease.as_micros()));
            }
            let _ = inner.socket.send(&message);
        });
    }

    /// The notifier's timers, as a future to run alongside the service on `runtime`:
    ///
    /// - `WATCHDOG=1` every [`watchdog`](Self::watchdog) period, from the first poll until the
    ///   sequence ends or is forced;
    /// - once the shutdown is triggered, an `EXTEND_TIMEOUT_USEC=` lease of three
    ///   seconds every second, while the running step is within its own deadline and never
    ///   past the graceful deadline (see the [module docs](self#the-stop-timeout)).
    ///
    /// It completes when the sequence reaches [`Completed`](Phase::Completed) or
    /// [`Forced`](Phase::Forced), or at once when inactive (without creating a timer). Spawn it,
    /// or poll it with the application; [`run_until_shutdown`](crate::run_until_shutdown) does.
    ///
    /// # Examples
    ///
    /// See the [module docs](self#examples).
    ///
    /// # Cancel safety
    ///
    /// Dropping it stops the pings; nothing else is lost.
    pub fn keepalive<'a, R: Runtime + 'a>(&self, plan: &Plan, runtime: R) -> Keepalive<'a> {
        let Some(inner) = self.inner.clone() else {
            return Keepalive { task: None };
        };
        let plan = plan.clone();
        Keepalive {
            task: Some(Box::pin(
                async move { inner.keepalive(&plan, &runtime).await },
            )),
        }
    }

    /// What the run helpers do: attach to `plan`, say ready, and run the timers, as one future
    /// (ready at once when inactive).
    pub(crate) fn serve<'a, R: Runtime + 'a>(&self, plan: &Plan, runtime: R) -> Keepalive<'a> {
        // Ready first: attaching after a trigger sends STOPPING=1 at once, and it must come
        // after READY=1.
        self.ready();
        self.attach(plan);
        self.keepalive(plan, runtime)
    }
}

impl fmt::Debug for Systemd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(inner) => f
                .debug_struct("Systemd")
                .field("socket", &inner.socket)
                .field("watchdog", &inner.watchdog)
                .finish_non_exhaustive(),
            None => f.write_str("Systemd(inactive)"),
        }
    }
}

// ===== impl Inner =====

impl Inner {
    /// Records the trigger time, keeping the earliest seen.
    fn mark_trigger(&self, at: Instant) {
        let mut triggered_at = self
            .triggered_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *triggered_at = Some(triggered_at.map_or(at, |seen| seen.min(at)));
    }

    /// How long ago the trigger was, once it was seen.
    fn since_trigger(&self, now: Instant) -> Option<Duration> {
        let triggered_at = *self
            .triggered_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        triggered_at.map(|at| now.saturating_duration_since(at))
    }

    async fn keepalive<R: Runtime>(&self, plan: &Plan, runtime: &R) {
        let shutdown = plan.shutdown();
        let config = plan.config();
        let mut next_watchdog = runtime.now();
        // The first renewal goes out as soon as the trigger is seen.
        let mut next_extend = Duration::ZERO;
        loop {
            if shutdown.phase() >= Phase::Completed {
                // Done, or forced: the watchdog stops with the stop.
                return;
            }
            let now = runtime.now();
            let mut wake = None;
            if let Some(every) = self.watchdog {
                if now >= next_watchdog {
                    let _ = self.socket.send("WATCHDOG=1");
                    next_watchdog = now.saturating_add(every);
                }
                wake = Some(next_watchdog);
            }
            if shutdown.is_triggered() {
                if now >= next_extend {
                    let since = self.since_trigger(Instant::now());
                    let step_end = current_step_end(&plan.progress(), config);
                    if let Some(lease) =
                        since.and_then(|since| lease(config.graceful(), since, step_end))
                    {
                        let _ = self
                            .socket
                            .send(&format!("EXTEND_TIMEOUT_USEC={}", lease.as_micros()));
                    }
                    next_extend = now.saturating_add(EXTEND_INTERVAL);
                }
                wake = Some(wake.map_or(next_extend, |at: Duration| at.min(next_extend)));
            }
            // Sleep until the next timer; wake early at the trigger (to start extending) and at
            // the end of the sequence (to stop).
            let mut timer = wake.map(|at| Box::pin(runtime.sleep(at.saturating_sub(now))));
            let mut triggered = pin!(shutdown.triggered());
            let mut ended = pin!(shutdown.reached(Phase::Completed));
            let was_triggered = shutdown.is_triggered();
            poll_fn(|cx| {
                let timer_fired = timer
                    .as_mut()
                    .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                let trigger_seen = !was_triggered && triggered.as_mut().poll(cx).is_ready();
                if timer_fired || trigger_seen || ended.as_mut().poll(cx).is_ready() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }
}

/// The lease to send `since_trigger` after the trigger: `EXTEND_LEASE`, cut to end at the
/// graceful deadline; `None` once that has passed, or once the running step's own deadline
/// (`step_end`, from the start of the sequence, when known) has passed.
fn lease(
    graceful: Duration,
    since_trigger: Duration,
    step_end: Option<Duration>,
) -> Option<Duration> {
    if step_end.is_some_and(|end| since_trigger >= end) {
        return None;
    }
    let left = graceful
        .checked_sub(since_trigger)
        .filter(|left| !left.is_zero())?;
    Some(EXTEND_LEASE.min(left))
}

/// When the running step's own deadline passes, as an offset from the start of the sequence:
/// the core's [`Progress::step_deadline`] (the pre-stop delay, the drain, the closer or flush
/// hook running now, with its own deadline), or, between steps of a stop, the graceful deadline.
/// `None` when the sequence has not started or has ended.
fn current_step_end(progress: &Progress, config: &Config) -> Option<Duration> {
    let current = progress.phases.last()?;
    if !stopping(current.phase) {
        return None;
    }
    Some(progress.step_deadline.unwrap_or(config.graceful()))
}

/// Whether `phase` is part of a stop still under way (not running, not ended).
fn stopping(phase: Phase) -> bool {
    !matches!(phase, Phase::Running | Phase::Completed | Phase::Forced)
}

/// The shortest period of the watchdog pings (see [`Systemd::watchdog`]).
const MIN_WATCHDOG_PERIOD: Duration = Duration::from_millis(10);

/// Half of `WATCHDOG_USEC`, if it is set for this process.
fn watchdog_from_env() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        let pid: u32 = pid.to_str()?.parse().ok()?;
        if pid != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec) / 2).filter(|every| !every.is_zero())
}

// ===== Keepalive =====

/// The future [`Systemd::keepalive`] returns: the watchdog and the stop-timeout extensions,
/// until the sequence ends. `'a` is the runtime's lifetime (`'static` for an owned runtime). Ready at once for an inactive notifier; safe to poll again after it
/// completed.
#[must_use = "futures do nothing unless polled"]
pub struct Keepalive<'a> {
    /// `None`: inactive, or finished.
    task: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
}

impl Future for Keepalive<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(());
        };
        if task.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.task = None;
        Poll::Ready(())
    }
}

impl fmt::Debug for Keepalive<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keepalive")
            .field("running", &self.task.is_some())
            .finish()
    }
}

// ===== Socket =====

/// The service manager's socket: an unbound datagram socket and the address to send to.
/// Each message is its own `sendto`, so a manager that re-created its socket (`daemon-reexec`)
/// still gets the next one.
#[cfg(unix)]
struct Socket {
    socket: std::os::unix::net::UnixDatagram,
    address: std::os::unix::net::SocketAddr,
    /// As given, for `Debug`.
    name: std::ffi::OsString,
}

#[cfg(unix)]
impl Socket {
    fn new(name: &std::ffi::OsStr) -> io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};

        let bytes = name.as_bytes();
        let address = match bytes.first() {
            None => return Err(invalid("the notify socket's name is empty")),
            Some(b'@') => abstract_address(&bytes[1..])?,
            Some(_) => SocketAddr::from_pathname(name)?,
        };
        Ok(Socket {
            socket: UnixDatagram::unbound()?,
            address,
            name: name.to_owned(),
        })
    }

    fn send(&self, message: &str) -> io::Result<()> {
        let sent = self
            .socket
            .send_to_addr(message.as_bytes(), &self.address)?;
        if sent == message.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the notification was cut short",
            ))
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_address(name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn abstract_address(_: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    Err(invalid("abstract sockets (`@name`) need Linux"))
}

#[cfg(unix)]
fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(unix)]
impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.name, f)
    }
}

/// Off Unix there is no notify socket: every notifier is inactive.
#[cfg(not(unix))]
#[derive(Debug)]
enum Socket {}

#[cfg(not(unix))]
impl Socket {
    fn new(_: &std::ffi::OsStr) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "systemd notifications need Unix",
        ))
    }

    fn send(&self, _: &str) -> io::Result<()> {
        match *self {}
    }
}

#[cfg(all(test, unix))]
mod tests;
