//! Running an application future alongside the shutdown sequence.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use winddown_core::runtime::Runtime;
use winddown_core::{Plan, Reason, Report};

use crate::task_set::Never;

mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
    impl Sealed for crate::task_set::Never {}
    impl<T, E: core::fmt::Display> Sealed for Result<T, E> {}
}

/// What the application future given to [`run_until_shutdown`] may return: `()`, or a
/// `Result` whose error is `Display`; or nothing: an application that never returns (an
/// accept loop, `async { loop { .. } }`) needs no annotation.
///
/// When the application future ends before the shutdown was triggered, its output becomes the
/// trigger's [`Reason`]: an `Err(e)` is [`Reason::error`]`(e)`, and `()` or `Ok(_)` is a
/// request ([`Reason::Requested`]) saying the application returned.
///
/// The trait is sealed.
///
/// # Examples
///
/// ```
/// use winddown::AppExit;
/// use winddown::Reason;
///
/// let failed: Result<(), std::fmt::Error> = Err(std::fmt::Error);
/// assert_eq!(failed.into_reason(), Reason::error(std::fmt::Error));
/// assert_eq!(().into_reason(), Reason::requested_because("the application returned"));
/// ```
pub trait AppExit: sealed::Sealed {
    /// The reason to trigger the shutdown with.
    fn into_reason(self) -> Reason;
}

impl AppExit for () {
    fn into_reason(self) -> Reason {
        Reason::requested_because("the application returned")
    }
}

/// An application that never returns: it only ends with the sequence, which drops it.
impl AppExit for Never {
    fn into_reason(self) -> Reason {
        self
    }
}

impl<T, E: fmt::Display> AppExit for Result<T, E> {
    fn into_reason(self) -> Reason {
        match self {
            Ok(_) => ().into_reason(),
            Err(error) => Reason::error(error),
        }
    }
}

/// Runs `app` and `plan` together on `runtime`, and returns the plan's [`Report`].
///
/// - `app` (the application: a server's accept loop, a consumer) is polled until it ends, or
///   until the sequence ends, whichever is first. It keeps running during the sequence, so a
///   server that drains its own connections inside `app` can finish them.
/// - The sequence starts at the trigger: a signal, a [`Shutdown::trigger`] call, or `app`
///   ending first, which triggers the shutdown with the reason its output gives (see
///   [`AppExit`]).
/// - When the sequence ends, `app` is dropped if it is still running, and the report is
///   returned.
/// - With the `systemd` feature, it tells systemd the service is ready (`READY=1`) when it
///   starts, and sends the stop's notifications (see the `systemd` module); nothing when
///   `NOTIFY_SOCKET` is unset.
///
/// `runtime` is any [`Runtime`]: `TokioRuntime::new()`, `SmolRuntime::new()`,
/// `AsyncStdRuntime::new()`, or one of your own. For a synchronous `main` whose work runs on
/// threads, block on [`Plan::run`] instead (`smol::block_on(plan.run(SmolRuntime::new()))`):
/// it waits for the trigger, then runs the sequence.
///
/// [`Shutdown::trigger`]: winddown_core::Shutdown::trigger
///
/// # Examples
///
#[cfg_attr(feature = "tokio", doc = "```")]
#[cfg_attr(not(feature = "tokio"), doc = "```ignore")]
/// use winddown::run_until_shutdown;
/// use winddown::tokio::TokioRuntime;
/// use winddown::{Config, Plan, Reason, Shutdown, Status};
///
/// /// The application: here it fails at once.
/// async fn serve() -> std::io::Result<()> {
///     Err(std::io::Error::other("config file missing"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let app = serve();
/// let report = run_until_shutdown(&plan, TokioRuntime::new(), app).await;
/// assert_eq!(report.status, Status::Completed);
/// assert_eq!(report.reason, Some(Reason::error("config file missing")));
/// # }
/// ```
///
/// # Caveats
///
/// `app` ending triggers the shutdown if nothing did before; an `app` that ends after a signal
/// changes nothing (a trigger is idempotent), so it never forces the shutdown.
///
/// # Cancel safety
///
/// Not cancel-safe once triggered, like [`Plan::run`]: dropping the future stops the sequence
/// where it is, and drops `app`.
pub async fn run_until_shutdown<R, F>(plan: &Plan, runtime: R, app: F) -> Report
where
    R: Runtime,
    F: Future,
    F::Output: AppExit,
{
    let shutdown = plan.shutdown();
    // With `systemd`: READY=1 now, STOPPING=1, STATUS= and the timers (silent without
    // NOTIFY_SOCKET). Polled before the sequence, so its hooks are in place when it starts.
    #[cfg(feature = "systemd")]
    let mut systemd = pin!(crate::systemd::Systemd::from_env().serve(plan, &runtime));
    let mut app = pin!(app);
    let mut app_done = false;
    let mut sequence = pin!(plan.run(&runtime));
    poll_fn(|cx| {
        #[cfg(feature = "systemd")]
        let _ = systemd.as_mut().poll(cx);
        // The application first, so a trigger it causes is seen by the sequence in this poll.
        if !app_done {
            if let Poll::Ready(output) = app.as_mut().poll(cx) {
                app_done = true;
                // Changes nothing if a signal came first.
                shutdown.trigger(output.into_reason());
            }
        }
        sequence.as_mut().poll(cx)
    })
    .await
}
