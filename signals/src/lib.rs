//! OS signals for [winddown](https://docs.rs/winddown): SIGTERM and SIGINT trigger a graceful
//! shutdown, a second signal forces it, a third ends the process.
//!
//! A daemon is stopped by signals: systemd and Kubernetes send SIGTERM, a person presses Ctrl-C
//! (SIGINT), and presses it again when the stop hangs. [`listen`] connects those signals to a
//! [`Shutdown`] (winddown-core's, `winddown::Shutdown` in the facade) with no async runtime:
//! a signal handler that only counts and writes a byte (and ends the process on the third
//! signal), and a small thread that turns the bytes into [`Shutdown::trigger`] and
//! [`Shutdown::force`] calls. A program that runs tokio, smol or async-std can have the
//! runtime do the thread's work instead, as a task its reactor wakes:
//! [`Builder::listen_tokio`], [`Builder::listen_async_io`] (see
//! [Listener tasks](#listener-tasks)).
//!
//! Don't use it for signals that do not mean "stop": every signal in a listener's set counts
//! towards the escalation. A SIGHUP that means "reload the configuration" belongs to
//! [`signal_hook::iterator`](https://docs.rs/signal-hook/0.4/signal_hook/iterator/), not here.
//!
//! # Anatomy
//!
//! - **The signal handler** (signal-hook's, shared by everything in the process that uses
//!   signal-hook) runs this crate's actions for each delivery, in order: count the delivery in
//!   the listener's atomic count, and if it is the third, end the process with
//!   `_exit(128 + n)`; write one byte to the signal's own socket; write one byte to the
//!   listener's wake socket. Nothing else happens inside the handler: no allocation, no lock,
//!   no logging. Everything is async-signal-safe.
//! - **The listener thread**, named `winddown-signals`, sleeps on the wake socket. When it wakes,
//!   it drains the wake socket, then counts the bytes in each signal's socket, and acts once per
//!   byte. So every delivery counts, even three that arrive before the thread is scheduled. It
//!   runs no code of yours.
//! - **Or a listener task** ([`ListenerTask`]), spawned on the
//!   application's runtime, does the thread's work with the wake socket registered with the
//!   runtime's reactor, as `tokio::signal` does: no thread of its own, and no code of yours
//!   either.
//! - **The hook thread**, named `winddown-signals-hook`, only with a
//!   [`Builder::on_event`] hook: it runs the hook for each event, so a hook that blocks cannot
//!   hold a trigger or a force back, nor the runtime thread of a listener task.
//! - **The [`Shutdown`]** keeps the trigger as a state: a signal that arrives after [`listen`]
//!   returns and before the application starts waiting is not lost, because
//!   [`Shutdown::triggered`] (or the orchestration) finds the shutdown already triggered.
//!   Registration happens in [`listen`], on the caller's thread, before it returns; while it
//!   runs, the caller's thread holds the listener's signals back (blocks them), and one that
//!   arrives meanwhile is delivered, and counted, as `listen` returns.
//!
//! # Escalation
//!
//! | nth signal | [`Action`]          | what happens                                                     |
//! |------------|---------------------|------------------------------------------------------------------|
//! | 1st        | `Trigger`           | `shutdown.trigger(Reason::Signal(n))`: the graceful sequence starts |
//! | 2nd        | `Force`             | `shutdown.force(Reason::Signal(n))`: the stop is forced          |
//! | 3rd, …     | `Exit { status }`   | the process ends at once; a shell sees status 128 + n (143 for SIGTERM) |
//!
//! The count is the listener's own: every delivery of any signal in its set, and nothing else.
//! A shutdown that something else triggered first (an admin API call, a Kubernetes `preStop`
//! hook, systemd's `ExecStop=` command, which systemd follows with SIGTERM anyway) is not forced
//! by the first signal: that signal asks for what is already happening, so the listener leaves
//! the shutdown alone ([`Event::started_shutdown`] is `false`: a trigger is idempotent and says
//! whether it started the shutdown). The listener's second signal forces, with
//! [`Shutdown::force`].
//!
//! The third signal ends the process with `_exit(128 + n)`, called by the signal handler itself:
//! the handler counts the deliveries, so nothing the process does can delay the exit (a hook
//! that blocks, a log write to a pipe nobody reads, a thread stuck in a closer), and the
//! listener thread never sees the third signal. A shell sees 143 for SIGTERM and 130 for
//! SIGINT; a parent's `ExitStatus::code()` is `Some(143)` and `ExitStatus::signal()` is `None`,
//! as the process exited rather than being killed by the signal. That is deliberate: restoring
//! the default disposition and raising the signal again does nothing in the init process of a
//! PID namespace (PID 1 in a container without an init), which the kernel shields from the
//! default action of signals, so it would not end the process there.
//!
//! # Listener tasks
//!
//! With the `tokio` feature, [`Builder::listen_tokio`] (called inside the runtime) returns the
//! listener as a [`ListenerTask`], a future to `tokio::spawn`; with `async-io`,
//! [`Builder::listen_async_io`] returns one to spawn on a smol or async-std executor. The
//! registration is the same as [`listen`]'s, and so is everything above and
//! below, with these differences:
//!
//! - **No thread**: a thread fewer to keep (its stack, a kernel task: the footprint of small
//!   boards) and a wake-up fewer between the signal and the stop: the handler's byte wakes the
//!   runtime's reactor, and the task triggers the shutdown on the runtime thread that then
//!   runs the sequence.
//! - **The first two signals are acted on when the runtime polls the task.** If every runtime
//!   thread is blocked (a closer that never yields, a write to a full pipe), they wait in their
//!   sockets, counted, until a thread is free. The third still ends the process from the
//!   signal handler at once: a blocked runtime cannot delay it, as a blocked listener thread
//!   cannot.
//! - **The hook still runs on the hook thread**, never on the runtime's: the task hands each
//!   event over just before its action and waits for the hook without blocking (at most half
//!   a second, on the runtime's timer), so a hook that blocks holds neither the stop nor the
//!   runtime. For a `Trigger`, the hook sees the shutdown not yet triggered (with the thread,
//!   it runs inside the trigger). The hand-off costs two wake-ups between threads before the
//!   action, as the listener thread did: without a hook, the task has none.
//!
//! Use the thread ([`listen`]) in a program without a runtime, or when the first two signals
//! must act even while every runtime thread may be blocked.
//!
//! ```
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
//! # #[cfg(all(unix, feature = "tokio"))]
//! # fn main() -> std::io::Result<()> {
//! use winddown::{Reason, Shutdown};
//! use winddown::signals::Signal;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let shutdown = Shutdown::new();
//! runtime.block_on(async {
//!     // Registered when this returns; delivered once the runtime runs the task.
//!     tokio::spawn(winddown::signals::Builder::new().listen_tokio(&shutdown)?);
//!
//!     signal_hook::low_level::raise(Signal::Term.number())?; // `kill -TERM <pid>`
//!     shutdown.triggered().await;
//!     std::io::Result::Ok(())
//! })?;
//! assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
//! # Ok(())
//! # }
//! # #[cfg(not(all(unix, feature = "tokio")))]
//! # fn main() {}
//! ```
//!
//! # Dropping a listener
//!
//! Dropping a listener gives its signals back what they did before the first [`listen`] for
//! them, according to the disposition [`listen`] found (with a query that changes nothing)
//! before registering anything:
//!
//! | before the first listener   | after the last listener of the signal is dropped              |
//! |-----------------------------|---------------------------------------------------------------|
//! | the default action          | the default action: SIGTERM and SIGINT end the process, killed by the signal |
//! | the default action, in PID 1 (a container without an init) | ignored, as the kernel ignores it for the init of a PID namespace |
//! | ignored (`SIG_IGN`)         | ignored                                                       |
//! | another library's handler   | that handler is called (signal-hook calls it on every delivery, with or without a listener) |
//!
//! signal-hook keeps its handler installed for the life of the process, so the old behaviour
//! is reproduced *through* that handler: for the default action, the crate registers one action
//! per signal, once per process, that carries out the default action (as signal-hook's
//! `flag::register_conditional_default` does), switched on while no listener has the signal
//! and off while one does. Repeated listen and drop cycles reuse it.
//!
//! While two listeners have a signal, dropping one leaves the signal with the other; the old
//! behaviour comes back when the last one is dropped. A signal that arrives *while* `listen`
//! or the drop runs gets the old behaviour, the listener, or both, and is never lost (one
//! exception: a signal that another thread takes during signal-hook's very first registration
//! of it). The caveats are under [Limitations](#limitations).
//!
//! # Logging
//!
//! A library should not write to your terminal: by default the listener is silent. Give it a
//! hook with [`Builder::on_event`]; each [`Event`] has a `Display` made for a log line
//! (`SIGTERM (signal #1): shutdown triggered`). The hook runs inside the trigger (a listener
//! task: just before it), before any waiter of the shutdown wakes, and just before the force,
//! so its line comes before what the application logs in response; the listener waits for it
//! for at most half a second, so a hook stuck on a full log pipe does not hold the stop. Make the hook's writes non-blocking
//! too (hand the line to a logger's queue), or a blocked hook loses the later events' lines.
//! A hook whose writes never block can run without the hook thread:
//! [`Builder::on_event_inline`] calls it on the listener itself, with no hand-off between
//! threads on the way to the stop.
//!
//! # Limitations
//!
//! Signal dispositions belong to the process, not to a listener. In particular:
//!
//! - **Restoring the default action on drop is process-wide.** If other code registered the
//!   same signal through signal-hook (`tokio::signal`, for example) *after* the first
//!   [`listen`] for it, then once the last listener is dropped the default action runs first
//!   and ends the process before that code sees the signal. signal-hook does not tell who else
//!   has a signal. Code that registered *before* the first [`listen`] is not affected: the
//!   listener found signal-hook's handler there, and restores nothing but that.
//! - **The old disposition is reproduced, not reinstalled.** After a drop, the signal is still
//!   caught by signal-hook's handler: a program this process starts with `exec` gets the
//!   default action for a signal that was ignored here (an ignored signal is inherited, a
//!   caught one is not), and a blocking system call may be interrupted (`EINTR`) by a signal
//!   that is ignored.
//! - **The disposition is learnt once per signal,** by the first [`listen`] for it. Code that
//!   changes the disposition with `sigaction` directly, not through signal-hook, after that
//!   replaces signal-hook's handler and this crate's with it.
//! - **Two listeners for one signal** both receive every delivery and count it separately.
//!   Other signal-hook users (`tokio::signal`, `ctrlc`) on the same signal keep receiving it too.
//! - **The kernel merges signals.** A standard signal sent while the same signal is pending is
//!   delivered once. `kill -TERM` three times in a tight loop may arrive as one or two signals;
//!   every delivery that does arrive is counted.
//! - **Order is kept per signal, not across signals.** Different signals of the set that arrive
//!   before the listener thread wakes are handled in the order of the set, not of arrival: a
//!   SIGINT and a SIGTERM a microsecond apart may be recorded as `Signal(15)` then `Signal(2)`.
//!   The count, and so the escalation, is exact.
//! - **The third signal skips all cleanup**: no destructors, no flushing of buffered writers or
//!   stdout. That is its purpose.
//! - **Register early.** If other code installs its own handler for the same signal (not through
//!   signal-hook) while [`listen`] runs, signal-hook may briefly chain to the wrong handler (see
//!   its `register` docs, "Race condition"). Call [`listen`] at the start of `main`, before
//!   starting threads.
//! - **The first registration's window, on other threads.** When signal-hook installs its
//!   handler for a signal for the first time in the process, a delivery in the next few hundred
//!   nanoseconds, before it has published the signal's actions, is dropped: neither the old
//!   behaviour nor the listener. [`listen`] blocks its signals in the calling thread until the
//!   listener is complete, so such a signal waits and is then counted; in a process where
//!   `listen` runs before any other thread starts (or where the other threads block the
//!   signals), nothing is lost. A thread that does not block the signal can still take it in
//!   that window and lose it, about once in a few thousand tries when the signal is sent at
//!   that very moment. That race is in signal-hook-registry and can only be fixed there.
//! - **Ignored signals are taken over.** A signal the process inherited as ignored (SIGHUP under
//!   `nohup`, SIGINT and SIGQUIT for a background job of a non-interactive shell) is handled while
//!   it is in a listener's set; it is ignored again once the listener is dropped.
//! - **The hook runs on a thread of its own**, and the listener waits for it for at most half a
//!   second per event (not at all while an earlier event's hook has not returned). A hook that
//!   blocks delays the trigger or the force by that half second once; its later events wait
//!   for it, and are lost if it never returns. A panic in the hook is caught; the panic hook
//!   prints it and the hook thread goes on.
//!
//! # Portability
//!
//! Unix only (Linux, macOS, the BSDs): everything in this crate is `#[cfg(unix)]`, and on other
//! targets the crate is empty. Gate code that uses it with `#[cfg(unix)]`.
//!
//! # Examples
//!
//! Listen for SIGTERM and SIGINT, and wait for the shutdown. Here the process sends itself the
//! SIGTERM that systemd would send.
//!
//! ```
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
//! # #[cfg(unix)]
//! # fn main() -> std::io::Result<()> {
//! use winddown::{Phase, Reason, Shutdown};
//! use winddown::signals::Signal;
//!
//! let shutdown = Shutdown::new();
//! // Registered when this returns: a signal from here on is never lost.
//! let _listener = winddown::signals::listen(&shutdown)?;
//!
//! // Stand-in for `kill -TERM <pid>` or `systemctl stop`.
//! signal_hook::low_level::raise(Signal::Term.number())?;
//!
//! shutdown.blocking().triggered(None);
//! assert_eq!(shutdown.reason(), Some(&Reason::Signal(15)));
//! assert_eq!(shutdown.phase(), Phase::Initiated);
//! // ... drain, close resources, report ...
//! # Ok(())
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! Add SIGQUIT, and log each step:
//!
//! ```
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
//! # #[cfg(unix)]
//! # fn main() -> std::io::Result<()> {
//! use winddown::Shutdown;
//! use winddown::signals::{Listener, Signal};
//!
//! let shutdown = Shutdown::new();
//! let listener = Listener::builder()
//!     .signal(Signal::Quit)
//!     .on_event(|event| eprintln!("winddown: {event}"))
//!     .listen(&shutdown)?;
//! assert_eq!(listener.signals(), [Signal::Term, Signal::Int, Signal::Quit]);
//! # Ok(())
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! # Unsafe code
//!
//! Eight `unsafe` blocks, each in a private function that allows it and says why it is sound:
//!
//! - a `sigaction` call that only *queries* a signal's disposition (a null new action), made
//!   before [`listen`] registers anything, so that the drop can restore it. Neither signal-hook
//!   nor nix offers a safe query.
//! - signal-hook's `low_level::register` for the action that counts deliveries inside the
//!   signal handler and ends the process on the third. signal-hook's safe actions can set a
//!   flag or exit on a flag, but not count; the action is an atomic increment and `_exit`.
//! - signal-hook's `low_level::register` for the *restorer*, the action that carries out a
//!   signal's default action while no listener has it, and that action's calls: the default
//!   disposition back (`sigaction`), the signal unblocked (`pthread_sigmask`), raised again,
//!   and `abort` if the process is still there. signal-hook's safe
//!   `flag::register_conditional_default` does the same through a table of every signal's name
//!   and default action, which would be linked into every program with a listener.
//! - signal-hook's `low_level::register` for the actions that send a byte to the listener's
//!   sockets on each delivery, and that `send` (`MSG_DONTWAIT`): signal-hook's safe
//!   `low_level::pipe::register` does the same with a probe and `fcntl` calls for any kind of
//!   file, which the listener's sockets do not need.
//! - two `pthread_sigmask` calls that block the listener's signals in the calling thread while
//!   [`listen`] registers, and restore the mask (see "The first registration's window" under
//!   [Limitations](#limitations)). signal-hook has no mask API.
//!
//! The crate denies `unsafe_code` and allows it on those functions alone.
//!
//! # Features
//!
//! The crate needs `std` (a thread and sockets). None is on by default.
//!
//! - `tokio`: [`Builder::listen_tokio`] and [`ListenerTask`] (tokio's `net`, `rt` and
//!   `time`).
//! - `async-io`: [`Builder::listen_async_io`] and [`ListenerTask`], for smol, async-std
//!   and other executors on async-io's reactor.
//!
//! [`Shutdown`]: winddown_core::Shutdown
//! [`Shutdown::trigger`]: winddown_core::Shutdown::trigger
//! [`Shutdown::force`]: winddown_core::Shutdown::force
//! [`Shutdown::triggered`]: winddown_core::Shutdown::triggered
// Links to feature-gated items: to this build's page with the feature on, else to docs.rs,
// which documents every feature.
#![cfg_attr(
    all(unix, feature = "tokio"),
    doc = "[`Builder::listen_tokio`]: Builder::listen_tokio"
)]
#![cfg_attr(
    not(all(unix, feature = "tokio")),
    doc = "[`Builder::listen_tokio`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_tokio"
)]
#![cfg_attr(
    all(unix, feature = "async-io"),
    doc = "[`Builder::listen_async_io`]: Builder::listen_async_io"
)]
#![cfg_attr(
    not(all(unix, feature = "async-io")),
    doc = "[`Builder::listen_async_io`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_async_io"
)]
#![cfg_attr(
    all(unix, any(feature = "async-io", feature = "tokio")),
    doc = "[`ListenerTask`]: ListenerTask"
)]
#![cfg_attr(
    not(all(unix, any(feature = "async-io", feature = "tokio"))),
    doc = "[`ListenerTask`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.ListenerTask.html"
)]
// Denied, not forbidden: `disposition::query` allows it for one `sigaction` query,
// `exit::register` for the in-handler count, and `mask` for `pthread_sigmask` (see "Unsafe
// code" above).
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(
    no_crate_inject,
    attr(deny(warnings, rust_2018_idioms), allow(dead_code, unused_variables))
))]

#[cfg(unix)]
mod disposition;
#[cfg(unix)]
mod escalation;
#[cfg(unix)]
mod exit;
#[cfg(unix)]
mod hook;
#[cfg(unix)]
mod listener;
#[cfg(unix)]
mod mask;
#[cfg(unix)]
mod signal;
#[cfg(all(unix, any(feature = "async-io", feature = "tokio")))]
mod task;
#[cfg(unix)]
mod wake;

#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use crate::escalation::Action;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use crate::listener::{listen, Builder, Event, Listener};
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use crate::signal::Signal;
#[cfg(all(unix, any(feature = "async-io", feature = "tokio")))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(unix, any(feature = "async-io", feature = "tokio"))))
)]
pub use crate::task::ListenerTask;
