//! The listener: registration with signal-hook, the listener thread, and the exit.
//!
//! The decision (which [`Action`] the nth signal gets) is in [`crate::escalation`]; this module
//! only counts deliveries and carries actions out.
//!
//! # Invariants
//!
//! 1. Every registration happens in [`Builder::listen`], on the caller's thread, before it
//!    returns. A delivery after that leaves a byte in a socket, which the thread reads whenever
//!    it gets to run: nothing is lost between `listen` and the first wait.
//! 2. For each signal, the handler runs this listener's actions in registration order (signal-hook
//!    keeps that order): (a) count the delivery in the listener's handler count, and end the
//!    process if it is the third ([`crate::exit`]; only in [`Exit::Process`] mode), (b) one byte
//!    to the signal's own count socket, (c) one byte to the shared wake socket. (b) then (c) is
//!    the "set the flag, then write" order of signal-hook's `low_level::pipe` docs, with the
//!    count socket as the flag.
//! 3. The thread drains the wake socket, *then* counts the bytes in the count sockets, then acts.
//!    A byte counted early leaves a spurious wake-up behind, which is harmless; the reverse order
//!    could leave a delivery uncounted until the next signal.
//! 4. The exit is the handler's alone: the thread never gates it. In [`Exit::Process`] mode the
//!    third delivery ends the process in (a), before (b) and (c), so the thread counts at most
//!    two bytes, and triggers and forces from them; whatever it or its hook is doing (blocked
//!    on a full pipe, sleeping) cannot delay the exit.
//! 5. Drop releases the listener's claim on its signals first (their previous behaviour is back,
//!    see [`crate::disposition`]), then unregisters every action, then sets `closed`, then
//!    writes to the wake socket. The thread acts on every byte it finds before it sees
//!    `closed`, so a signal delivered before the drop is still carried out.
//! 6. `listen` queries each signal's disposition (`Table::prepare`) before registering anything
//!    for it, and claims the signals only after registering every action, all under the
//!    disposition table's lock. Drop releases before unregistering. So a delivery always reaches
//!    the listener or gets the previous behaviour (see [`crate::disposition`], invariant 4),
//!    provided signal-hook runs an action for it at all: see invariant 7.
//! 7. The signals of the set are blocked in the calling thread from before `prepare` until
//!    after the claim ([`crate::mask`]): signal-hook-registry swallows a delivery made while it
//!    installs its handler for a signal the first time, so none may reach this thread then.
//!    Deliveries held back meanwhile arrive after the claim, and reach the listener.
//! 8. The thread runs no code of the application's: the hook runs on the hook thread
//!    ([`crate::hook`]). The event of a delivery is handed over before its action takes
//!    effect: a `Force` just before the force; a `Trigger` that starts the shutdown from inside
//!    the trigger, by the trigger hook `listen` registered, which recognises this thread's
//!    trigger by `TRIGGERING` (set only on this thread, for the duration of its
//!    `trigger`). Handing over waits at most `HOOK_WAIT` (hook invariant 2).
//!    A listener task (`crate::task`) runs no code of the application's either: it hands every
//!    event over just before its action ([`Worker::event`], then [`Worker::act`]) and waits
//!    for the hook as a future, so neither the hook nor the wait holds its runtime's thread.
//!
//! # Memory ordering
//!
//! `closed` uses `SeqCst`, like signal-hook's own flags: signals are rare and speed does not
//! matter here. It is also paired with a socket write and read, which order it anyway. The
//! handler count's ordering is explained in [`crate::exit`].

use std::cell::Cell;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use signal_hook::low_level;
use signal_hook::SigId;
use winddown_core::{Reason, Shutdown};

use crate::disposition::{self, Claim};
use crate::escalation::{Action, Escalation};
use crate::exit;
use crate::hook::{Hand, Hook, HookThread};
use crate::mask::Blocked;
use crate::signal::Signal;
use crate::wake;

/// The name of the listener thread.
const THREAD_NAME: &str = "winddown-signals";

/// The default set: SIGTERM (systemd, Kubernetes, `kill`), then SIGINT (Ctrl-C).
const DEFAULT_SIGNALS: [Signal; 2] = [Signal::Term, Signal::Int];

/// Numbers the listeners of the process, so that a trigger hook knows its own listener's
/// thread. Relaxed: only uniqueness matters.
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// On a listener thread, while it triggers the shutdown for a signal: that listener's
    /// number and the event to report if the trigger is its (see `Worker::deliver`).
    static TRIGGERING: Cell<Option<(u64, Event)>> = const { Cell::new(None) };
}

// ===== listen =====

/// Listens for SIGTERM and SIGINT and delivers them to `shutdown`, with escalation.
///
/// The same as `Listener::builder().listen(shutdown)`; see [`Builder`] to choose the signals
/// or add a log hook, and the [crate docs](crate#escalation) for what each signal does. The
/// listener stops when it is dropped; keep it for as long as the process runs.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// # #[cfg(unix)]
/// # fn main() -> std::io::Result<()> {
/// use winddown::Shutdown;
/// use winddown::signals::Signal;
///
/// let shutdown = Shutdown::new();
/// let listener = winddown::signals::listen(&shutdown)?;
/// assert_eq!(listener.signals(), [Signal::Term, Signal::Int]);
/// # Ok(())
/// # }
/// # #[cfg(not(unix))]
/// # fn main() {}
/// ```
///
/// # Errors
///
/// As [`Builder::listen`]: the OS refused a registration, a socket, or the thread.
pub fn listen(shutdown: &Shutdown) -> io::Result<Listener> {
    Builder::new().listen(shutdown)
}

// ===== Builder =====

/// Chooses a listener's signals and log hook, then starts it with [`listen`](Self::listen).
///
/// Starts with SIGTERM and SIGINT ([`new`](Self::new)) or with nothing
/// ([`empty`](Self::empty)); SIGQUIT, SIGHUP, SIGUSR1 and SIGUSR2 are opt-in with
/// [`signal`](Self::signal).
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// # #[cfg(unix)]
/// # fn main() -> std::io::Result<()> {
/// use winddown::Shutdown;
/// use winddown::signals::{Builder, Signal};
///
/// let shutdown = Shutdown::new();
/// let listener = Builder::new()
///     .signal(Signal::Quit)
///     .signal(Signal::Hup)
///     .on_event(|event| eprintln!("{event}"))
///     .listen(&shutdown)?;
/// assert_eq!(listener.signals().len(), 4);
/// # Ok(())
/// # }
/// # #[cfg(not(unix))]
/// # fn main() {}
/// ```
pub struct Builder {
    /// The set, in the order given, without duplicates.
    signals: Vec<Signal>,
    /// The hook, with where it runs: set together, so that a listener without a hook links
    /// neither the hook thread nor the inline hand-off.
    on_event: Option<(Hook, StartHook)>,
    /// Whether `on_event` runs where the listener runs instead of on the hook thread.
    inline: bool,
    exit: Exit,
}

/// Starts the hook where it runs: on the hook thread ([`on_thread`]), or inline
/// ([`Hand::inline`]). Returns the thread, if any, boxed so that only a program that starts one
/// links its drop, and the hand that delivers events to it.
type StartHook = fn(Hook) -> io::Result<(Option<Box<dyn Send + Sync>>, Hand)>;

/// A [`StartHook`] that starts the hook thread.
fn on_thread(hook: Hook) -> io::Result<(Option<Box<dyn Send + Sync>>, Hand)> {
    let (thread, hand) = HookThread::start(hook)?;
    Ok((Some(Box::new(thread)), hand))
}

/// A [`StartHook`] that runs the hook inline.
fn inline(hook: Hook) -> io::Result<(Option<Box<dyn Send + Sync>>, Hand)> {
    Ok((None, Hand::inline(hook)))
}

impl Builder {
    /// A builder for SIGTERM and SIGINT.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// use winddown::signals::{Builder, Signal};
    /// assert_eq!(Builder::new().signals(), [Signal::Term, Signal::Int]);
    /// # }
    /// ```
    pub fn new() -> Self {
        Self {
            signals: DEFAULT_SIGNALS.to_vec(),
            on_event: None,
            inline: false,
            exit: Exit::Process,
        }
    }

    /// A builder with no signals; add them with [`signal`](Self::signal).
    ///
    /// # Examples
    ///
    /// Only SIGTERM, leaving Ctrl-C to kill the process as usual:
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// use winddown::signals::{Builder, Signal};
    /// assert_eq!(Builder::empty().signal(Signal::Term).signals(), [Signal::Term]);
    /// # }
    /// ```
    pub fn empty() -> Self {
        Self {
            signals: Vec::new(),
            ..Self::new()
        }
    }

    /// Adds `signal` to the set. Adding a signal twice has no effect.
    ///
    /// Every signal in the set counts towards the same escalation: SIGINT then SIGTERM forces.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// use winddown::signals::{Builder, Signal};
    /// let builder = Builder::new().signal(Signal::Quit).signal(Signal::Term);
    /// assert_eq!(builder.signals(), [Signal::Term, Signal::Int, Signal::Quit]);
    /// # }
    /// ```
    pub fn signal(mut self, signal: Signal) -> Self {
        if !self.signals.contains(&signal) {
            self.signals.push(signal);
        }
        self
    }

    /// The signals in the set, in the order they were added.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// assert!(winddown::signals::Builder::empty().signals().is_empty());
    /// # }
    /// ```
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// Calls `hook` for each signal received, to log it, on a thread of its own
    /// (`winddown-signals-hook`, started by [`listen`](Self::listen) or a listener task's
    /// `listen_*`), never on the listener thread nor on a runtime's thread. Replaces any
    /// earlier hook.
    ///
    /// **In order with the stop.** For an [`Action::Trigger`] that starts the shutdown, the hook
    /// runs inside the trigger: the phase is [`Initiated`](winddown_core::Phase::Initiated),
    /// and no waiter of the shutdown has woken yet. (A listener task runs it just before the
    /// trigger instead, the phase still `Running`: it cannot wait inside the trigger without
    /// blocking its runtime's thread. Should something else trigger the shutdown in that moment,
    /// the event's [`started_shutdown`](Event::started_shutdown) says `true` although the
    /// other trigger won.) For an [`Action::Force`], it runs just before the force. So a line
    /// the hook writes comes before whatever the application writes in response (the
    /// sequence's first phase, the forced stop), provided the hook returns within half a
    /// second: the listener waits no longer for it.
    ///
    /// **It cannot hold the stop.** A hook that blocks (a write to a pipe nobody reads, a
    /// lock) delays the listener by that half second once; the signals after it trigger and force
    /// at once, and their events wait for the hook. A listener task waits without blocking its
    /// runtime's thread, which goes on running everything else meanwhile. The third signal's
    /// exit does not involve any of these threads. A panic in the hook is caught, and the hook
    /// thread goes on.
    ///
    /// It never sees the third signal: that one ends the process inside the signal handler,
    /// where nothing can be logged (the second signal's event says that the next one ends the
    /// process).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::Shutdown;
    /// use winddown::signals::{Action, Builder};
    ///
    /// let shutdown = Shutdown::new();
    /// let listener = Builder::new()
    ///     .on_event(|event| match event.action() {
    ///         Action::Trigger if !event.started_shutdown() => {
    ///             eprintln!("{}: already shutting down; send it again to force", event.signal())
    ///         }
    ///         _ => eprintln!("{event}"),
    ///     })
    ///     .listen(&shutdown)?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn on_event<F>(mut self, hook: F) -> Self
    where
        F: FnMut(&Event) + Send + 'static,
    {
        self.on_event = Some((Box::new(hook), on_thread));
        self.inline = false;
        self
    }

    /// Calls `hook` with each signal's event as [`on_event`](Self::on_event) does, in the same
    /// order with the actions, but on the listener itself (the listener thread, inside the
    /// trigger; a listener task, on its runtime's thread, just before the action) instead of a
    /// thread of its own: no hand-off between threads, no hook thread, no wait. Replaces an
    /// `on_event` hook.
    ///
    /// **For a hook that never blocks**: one that only queues a line for a writer of its own
    /// (which decides what to do with a full pipe), bumps a counter, or sends on an unbounded
    /// channel. A hook that blocks here holds the listener (a second signal no longer forces),
    /// or a listener task's runtime thread (and whatever stop runs there); `eprintln!` to a
    /// pipe nobody reads blocks. Use [`on_event`](Self::on_event) for those. A panic in the
    /// hook is caught, and the listener goes on. It never sees the third signal either.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use std::sync::mpsc;
    /// use winddown::Shutdown;
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let shutdown = Shutdown::new();
    /// // A writer thread of the application's own prints what the hook queues.
    /// let (lines, queued) = mpsc::channel();
    /// let _listener = Builder::empty()
    ///     .signal(Signal::Usr1)
    ///     .on_event_inline(move |event| drop(lines.send(event.to_string())))
    ///     .listen(&shutdown)?;
    /// signal_hook::low_level::raise(Signal::Usr1.number())?;
    /// shutdown.blocking().triggered(None);
    /// // Queued inside the trigger: there by the time anyone sees the shutdown triggered.
    /// assert_eq!(queued.try_recv().unwrap(), "SIGUSR1 (signal #1): shutdown triggered");
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn on_event_inline<F>(mut self, hook: F) -> Self
    where
        F: FnMut(&Event) + Send + 'static,
    {
        self.on_event = Some((Box::new(hook), inline));
        self.inline = true;
        self
    }

    /// Replaces the process exit with `hook`, and registers no in-handler exit: for this crate's
    /// tests, which must not kill the test harness.
    #[cfg(test)]
    pub(crate) fn on_exit<F>(mut self, hook: F) -> Self
    where
        F: FnMut(i32, i32) + Send + 'static,
    {
        self.exit = Exit::Hook(Box::new(hook));
        self
    }

    /// Registers the signals and starts the listener thread.
    ///
    /// A program that runs tokio, smol or async-std can do without the thread:
    /// [`listen_tokio`] and [`listen_async_io`] register the same way and return the listener
    /// as a task for the runtime (crate docs, [Listener tasks](crate#listener-tasks)).
    ///
    /// When this returns `Ok`, every signal of the set is caught (invariant 1 in the module
    /// docs): one that arrives before anybody waits on `shutdown` still triggers it. The
    /// listener holds a clone of `shutdown`.
    ///
    /// While it registers, it blocks the signals of the set in the calling thread (and restores
    /// the thread's signal mask before it returns), so that a signal sent meanwhile waits and
    /// reaches the complete listener instead of signal-hook's first-registration window (see
    /// the [crate docs](crate#limitations)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::{Reason, Shutdown};
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let shutdown = Shutdown::new();
    /// let _listener = Builder::empty().signal(Signal::Usr1).listen(&shutdown)?;
    /// signal_hook::low_level::raise(Signal::Usr1.number())?;
    /// shutdown.blocking().triggered(None);
    /// assert_eq!(shutdown.reason(), Some(&Reason::Signal(Signal::Usr1.number())));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// Nothing of the listener is left registered after an error: its signals do what they did
    /// before.
    ///
    /// - [`ErrorKind::InvalidInput`] if the set is empty.
    /// - The OS error if the signal mask, a registration, a socket pair or the thread cannot
    ///   be set up.
    ///
    // Links to feature-gated methods: to this build's page with the feature on, else to
    // docs.rs, which documents every feature.
    #[cfg_attr(feature = "tokio", doc = "[`listen_tokio`]: Self::listen_tokio")]
    #[cfg_attr(
        not(feature = "tokio"),
        doc = "[`listen_tokio`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_tokio"
    )]
    #[cfg_attr(
        feature = "async-io",
        doc = "[`listen_async_io`]: Self::listen_async_io"
    )]
    #[cfg_attr(
        not(feature = "async-io"),
        doc = "[`listen_async_io`]: https://docs.rs/winddown-signals/0.1/winddown_signals/struct.Builder.html#method.listen_async_io"
    )]
    pub fn listen(self, shutdown: &Shutdown) -> io::Result<Listener> {
        let (mut listener, worker, wake) = self.register(shutdown, Runner::Thread)?;
        // On an error, dropping the listener unregisters everything.
        listener.start_thread(worker, wake)?;
        Ok(listener)
    }

    /// Everything [`listen`](Self::listen) does but start the thread: registers the signals
    /// (and starts the hook thread, with a hook) and returns the listener (with no listener
    /// thread yet), the work its thread would do, and the read end of the wake socket, which
    /// whoever runs the worker waits on. The listener thread and the listener tasks
    /// (`crate::task`) share it; `runner` says which will run the worker.
    pub(crate) fn register(
        self,
        shutdown: &Shutdown,
        runner: Runner,
    ) -> io::Result<(Listener, Worker, UnixStream)> {
        let Builder {
            signals,
            on_event,
            exit,
            ..
        } = self;
        if signals.is_empty() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "no signals to listen for",
            ));
        }
        // The numbers, once, here: the handler's actions below only ever see numbers.
        let numbers: Vec<i32> = signals.iter().map(|signal| signal.number()).collect();

        // The hook's thread, and for the listener thread the trigger hook that hands it this
        // listener's trigger event from inside the trigger (see `Worker::deliver`), registered
        // before the listener thread starts, so before it can trigger. A listener task hands
        // its events over before acting, and waits for the hook as a future (`crate::task`):
        // it cannot wait inside the trigger without blocking its runtime's thread.
        let id = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
        let (hook, hand) = match on_event {
            Some((hook, start_hook)) => {
                let (thread, hand) = start_hook(hook)?;
                if runner == Runner::Thread {
                    shutdown.on_trigger({
                        let hand = hand.clone();
                        move |_| {
                            if let Some((owner, event)) = TRIGGERING.get() {
                                if owner == id {
                                    TRIGGERING.set(None);
                                    hand.deliver(event);
                                }
                            }
                        }
                    });
                }
                (thread, Some(hand))
            }
            None => (None, None),
        };

        // Invariant 2 (a): the handler's own count, shared by every signal of the set.
        let handler_count = Arc::new(AtomicU32::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let (wake_read, wake_write) = UnixStream::pair()?;
        // Our own writer only wakes the thread on drop; never block the drop on a full socket
        // (a full socket wakes the thread anyway).
        wake_write.set_nonblocking(true)?;

        // Invariant 7: from here until the claim, a delivery to this thread waits.
        let blocked = Blocked::new(&numbers)?;
        // Invariant 6: the old dispositions first, before anything of ours is registered.
        let mut table = disposition::table();
        for &number in &numbers {
            table.prepare(number)?;
        }

        // On an early return, dropping this unregisters what was registered so far.
        let mut registrations = Registrations(Vec::new());
        let mut counters = Vec::with_capacity(signals.len());
        for (&signal, &number) in signals.iter().zip(&numbers) {
            let (count_read, count_write) = UnixStream::pair()?;
            count_read.set_nonblocking(true)?;
            // Invariant 2, (a): the in-handler count and exit, registered first so that it runs
            // first.
            if exit.in_handler() {
                registrations.push(exit::register(number, &handler_count)?);
            }
            // (b), then (c).
            registrations.push(wake::register(number, count_write)?);
            registrations.push(wake::register(number, wake_write.try_clone()?)?);
            counters.push(Counter {
                signal,
                socket: count_read,
            });
        }
        // Invariant 6: every action is registered; switch the restorers off. On an early return
        // from here on, the claim is dropped (released) before the registrations, as in `Drop`.
        let claim = table.claim(&numbers);
        drop(table);
        // Invariant 7: a signal that arrived meanwhile is delivered now, to the listener. Its
        // bytes wait in the sockets for the thread.
        drop(blocked);

        let worker = Worker {
            shutdown: shutdown.clone(),
            counters,
            escalation: Escalation::default(),
            closed: Arc::clone(&closed),
            id,
            hand,
            exit,
        };
        let listener = Listener {
            signals,
            claim,
            registrations,
            closed,
            wake: wake_write,
            join: None,
            hook,
        };
        Ok((listener, worker, wake_read))
    }
}

impl Default for Builder {
    /// [`Builder::new`]: SIGTERM and SIGINT.
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("signals", &self.signals)
            .field("on_event", &self.on_event.is_some())
            .field("inline", &self.inline)
            .finish_non_exhaustive()
    }
}

// ===== Listener =====

/// A running signal listener, from [`listen`] or [`Builder::listen`].
///
/// It delivers the signals of its set to one [`Shutdown`] until it is dropped: the first
/// triggers, the second forces, the third ends the process (see the
/// [crate docs](crate#escalation)).
///
/// Dropping it unregisters its actions and stops its thread, after acting on every signal that
/// was delivered before the drop. Its signals then do again what they did before [`listen`]:
/// SIGTERM ends the process, an ignored signal stays ignored, another library's handler is
/// called (see the [crate docs](crate#dropping-a-listener)), unless another listener still has
/// them. Bind the listener to a name (`let _listener = …`), not to `_`, which drops it at once.
///
/// # Comparison to `signal_hook::iterator::Signals`
///
/// `Signals` reports which signals arrived since it last looked, so three quick SIGTERMs may show
/// up as one; it leaves the thread and the meaning to you. A `Listener` counts every delivery,
/// owns its thread, and gives the signals one meaning: stop, harder each time.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// # #[cfg(unix)]
/// # fn main() -> std::io::Result<()> {
/// use winddown::{Phase, Shutdown};
/// use winddown::signals::{Listener, Signal};
///
/// let shutdown = Shutdown::new();
/// let listener = Listener::builder().signal(Signal::Usr1).listen(&shutdown)?;
///
/// signal_hook::low_level::raise(Signal::Usr1.number())?; // triggers
/// shutdown.blocking().triggered(None);
/// signal_hook::low_level::raise(Signal::Usr1.number())?; // forces
/// assert_eq!(shutdown.blocking().reached(Phase::Forced, None), Some(Phase::Forced));
///
/// // The third would end the process. Stop listening instead: SIGUSR1 has its default action
/// // again (it would end the process too, as it did before `listen`).
/// drop(listener);
/// # Ok(())
/// # }
/// # #[cfg(not(unix))]
/// # fn main() {}
/// ```
///
/// # Blocking
///
/// Dropping the listener joins its thread, which runs no code of yours, and gives an
/// [`on_event`] hook at most half a second to finish the events it was handed; a hook still
/// running after that is left to finish on its own thread (a hook that drops the listener
/// itself does not wait for itself).
///
/// A process on its way out with [`std::process::exit`] need not drop it first: `exit` runs no
/// destructors and ends the thread with the process, and until then signals still escalate (a
/// third one ends the process at once). Dropping it there only adds a wake-up of the thread and
/// a wait for it.
///
/// [`on_event`]: Builder::on_event
#[must_use = "dropping the listener stops it at once"]
pub struct Listener {
    signals: Vec<Signal>,
    /// Invariant 5: released on drop, before unregistering.
    claim: Claim,
    registrations: Registrations,
    /// Invariant 5: set on drop, after unregistering.
    closed: Arc<AtomicBool>,
    /// A non-blocking writer to the thread's wake socket.
    wake: UnixStream,
    /// Joins the listener thread, if it has one: set by `start_thread`, so that a listener task
    /// does not link the join.
    join: Option<Box<dyn FnOnce() + Send + Sync>>,
    /// The hook's thread, stopped after the listener thread (see `Drop`); boxed (see
    /// [`StartHook`]).
    hook: Option<Box<dyn Send + Sync>>,
}

impl Listener {
    /// A [`Builder`] for SIGTERM and SIGINT: the same as [`Builder::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)] {
    /// use winddown::signals::{Listener, Signal};
    /// let builder = Listener::builder().signal(Signal::Quit);
    /// assert_eq!(builder.signals(), [Signal::Term, Signal::Int, Signal::Quit]);
    /// # }
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The signals this listener handles, in the order they were added.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use winddown::Shutdown;
    /// use winddown::signals::{Builder, Signal};
    ///
    /// let listener = Builder::empty().signal(Signal::Usr2).listen(&Shutdown::new())?;
    /// assert_eq!(listener.signals(), [Signal::Usr2]);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }
}

impl Listener {
    /// Starts the listener thread, which runs `worker` on the blocking `wake` socket until the
    /// listener is dropped.
    pub(crate) fn start_thread(&mut self, worker: Worker, wake: UnixStream) -> io::Result<()> {
        wake.set_nonblocking(false)?;
        let thread = thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || worker.run(wake))?;
        self.join = Some(Box::new(move || join(thread)));
        Ok(())
    }
}

/// Waits for the listener thread to stop, unless called on it: code that runs on the listener
/// thread (another trigger hook of the shutdown) and drops the listener must not join its own
/// thread.
fn join(thread: JoinHandle<()>) {
    if thread.thread().id() != thread::current().id() {
        let _ = thread.join();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Invariant 5: the previous behaviour is back (a delivery between this line and the
        // next gets it, and may reach our sockets too)...
        self.claim.release();
        // ...no delivery reaches our sockets after this...
        self.registrations.unregister_all();
        // ...then the thread finishes what was delivered and stops.
        self.closed.store(true, Ordering::SeqCst);
        // A full socket (WouldBlock) already wakes the thread; nothing else can fail here.
        let _ = (&self.wake).write(&[0]);
        if let Some(join) = self.join.take() {
            join();
        }
        // Last, so that it has every event the thread reported: the hook gets a moment to
        // finish them, and is not waited for beyond that.
        drop(self.hook.take());
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

// ===== Event =====

/// One signal the listener received, and what it did: given to the [`Builder::on_event`] hook.
///
/// Its `Display` is a log line without a trailing period:
/// `SIGTERM (signal #1): shutdown triggered`.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod signals { pub use winddown_signals::*; } }
/// # #[cfg(unix)]
/// # fn main() -> std::io::Result<()> {
/// use std::sync::mpsc;
/// use winddown::Shutdown;
/// use winddown::signals::{Action, Builder, Signal};
///
/// let (tx, rx) = mpsc::channel();
/// let shutdown = Shutdown::new();
/// let _listener = Builder::empty()
///     .signal(Signal::Usr2)
///     .on_event(move |event| tx.send(*event).unwrap())
///     .listen(&shutdown)?;
///
/// signal_hook::low_level::raise(Signal::Usr2.number())?;
/// let event = rx.recv().unwrap();
/// assert_eq!(event.signal(), Signal::Usr2);
/// assert_eq!(event.count(), 1);
/// assert_eq!(event.action(), Action::Trigger);
/// assert!(event.started_shutdown());
/// assert_eq!(event.to_string(), "SIGUSR2 (signal #1): shutdown triggered");
/// # Ok(())
/// # }
/// # #[cfg(not(unix))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    signal: Signal,
    count: u32,
    action: Action,
    started_shutdown: bool,
}

impl Event {
    /// The signal; its `Display` is its name (`SIGTERM`), [`Signal::number`] its number.
    ///
    /// # Examples
    ///
    /// See [`Event`].
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Which signal this was for the listener, counting from 1 over all signals of its set.
    ///
    /// # Examples
    ///
    /// See [`Event`].
    pub fn count(&self) -> u32 {
        self.count
    }

    /// What the signal did.
    ///
    /// # Examples
    ///
    /// See [`Event`].
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether this signal started the shutdown: `true` for a [`Action::Trigger`] on a shutdown
    /// that was still running. `false` when something else had triggered it already (then the
    /// listener left it alone, see the [crate docs](crate#escalation)), and for every other
    /// action.
    ///
    /// # Examples
    ///
    /// See [`Event`] and [`Builder::on_event`].
    pub fn started_shutdown(&self) -> bool {
        self.started_shutdown
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (signal #{}): ", self.signal, self.count)?;
        match self.action {
            Action::Trigger if !self.started_shutdown => {
                f.write_str("shutdown already triggered; another signal forces it")
            }
            Action::Exit { status } => write!(f, "ending the process at once (status {status})"),
            action => fmt::Display::fmt(&action, f),
        }
    }
}

// ===== the listener thread =====

/// Who runs a listener's [`Worker`]: its own thread, or a task on the application's runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runner {
    /// [`Builder::listen`].
    Thread,
    /// `crate::task`: `Builder::listen_tokio`, `Builder::listen_async_io`.
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    Task,
}

/// How the third signal ends the process.
enum Exit {
    /// For real: in the signal handler ([`crate::exit`]).
    Process,
    /// Tests only: call the hook with the signal and the status, and register no in-handler
    /// exit.
    #[cfg(test)]
    Hook(Box<dyn FnMut(i32, i32) + Send + 'static>),
}

impl Exit {
    /// Whether the signal handler counts deliveries and ends the process (invariant 2, a).
    fn in_handler(&self) -> bool {
        match self {
            Exit::Process => true,
            #[cfg(test)]
            Exit::Hook(_) => false,
        }
    }
}

/// One signal's count socket: one byte per delivery (invariant 2, b).
struct Counter {
    signal: Signal,
    socket: UnixStream,
}

/// The state the listener thread (or a listener task) owns: everything but the wake socket,
/// which the thread reads blocking and a task through its runtime's reactor.
pub(crate) struct Worker {
    shutdown: Shutdown,
    counters: Vec<Counter>,
    escalation: Escalation,
    closed: Arc<AtomicBool>,
    /// This listener's number, for its trigger hook (`TRIGGERING`).
    id: u64,
    /// Hands events to the hook thread, if there is a hook.
    hand: Option<Hand>,
    exit: Exit,
}

impl Worker {
    /// The listener thread: waits on the blocking `wake` socket, one round per wake-up, until
    /// the listener is dropped.
    fn run(mut self, mut wake: UnixStream) {
        let mut buf = [0_u8; 64];
        loop {
            // Invariant 3: first the wake socket (blocking)...
            let open = match wake.read(&mut buf) {
                Ok(n) => n > 0,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Cannot happen on a connected socket we own; stop rather than spin.
                Err(_) => false,
            };
            if !self.round(open) {
                return;
            }
        }
    }

    /// One round of the thread, after the wake socket was read (`open` is `false` once it is
    /// closed or broken): acts on every delivery counted so far. Returns whether to go on
    /// waiting: `false` once the listener is dropped (or the wake socket is gone).
    fn round(&mut self, open: bool) -> bool {
        let mut buf = [0_u8; 64];
        // Invariant 5: `closed` is read before the counts. Once it is set, nothing more is
        // delivered, so the counts below are the last; a drop that comes later writes
        // another wake-up, and the next round sees `closed`.
        let last = !open || self.closed.load(Ordering::SeqCst);
        // ...then the counts, then the actions.
        for i in 0..self.counters.len() {
            let signal = self.counters[i].signal;
            for _ in 0..drain(&self.counters[i].socket, &mut buf) {
                self.deliver(signal);
            }
        }
        !last
    }

    /// Reads the count sockets, and calls `counted` once per delivery found, in the order of
    /// the set: a listener task's round (invariant 3: after the wake socket was drained).
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn count(&self, mut counted: impl FnMut(Signal)) {
        let mut buf = [0_u8; 64];
        for counter in &self.counters {
            for _ in 0..drain(&counter.socket, &mut buf) {
                counted(counter.signal);
            }
        }
    }

    /// Counts one delivery of `signal` and carries out its action, reporting it to the hook
    /// first (see [`Builder::on_event`]: in order with the stop). The listener thread's way.
    fn deliver(&mut self, signal: Signal) {
        let (count, action) = self.escalation.next(signal.number());
        let event = Event {
            signal,
            count,
            action,
            started_shutdown: false,
        };
        match action {
            Action::Trigger => {
                // The escalation counts only this listener's signals. If something else
                // triggered first, this signal only asks for what is already happening: a
                // trigger is idempotent, and says whether it was the one that started it.
                let ours = Event {
                    started_shutdown: true,
                    ..event
                };
                // If this trigger is the first, the trigger hook registered by `listen` runs
                // inside it, on this thread, and hands `ours` to the hook before any waiter
                // wakes; it takes it from here to say so.
                TRIGGERING.set(Some((self.id, ours)));
                let started = self.shutdown.trigger(Reason::Signal(signal.number()));
                let unreported = TRIGGERING.take().is_some();
                if !started {
                    self.report(event);
                } else if unreported {
                    // The trigger hook did not run (a panic caught by the core): report late
                    // rather than never.
                    self.report(ours);
                }
            }
            Action::Force | Action::Exit { .. } => {
                self.report(event);
                self.act(event);
            }
        }
    }

    /// Counts one delivery of `signal` and returns its event, for the hook to see before
    /// [`act`](Self::act) carries it out: a listener task's way (invariant 8). A `Trigger`
    /// starts the shutdown if nothing else has triggered it by then, so the event says it does
    /// when the shutdown is not triggered yet.
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn event(&mut self, signal: Signal) -> Event {
        let (count, action) = self.escalation.next(signal.number());
        Event {
            signal,
            count,
            action,
            started_shutdown: action == Action::Trigger && !self.shutdown.is_triggered(),
        }
    }

    /// Carries out `event`'s action.
    pub(crate) fn act(&mut self, event: Event) {
        let signal = event.signal.number();
        match event.action {
            Action::Trigger => {
                // The escalation counts only this listener's signals. If something else
                // triggered first, this signal only asks for what is already happening (a
                // trigger is idempotent).
                self.shutdown.trigger(Reason::Signal(signal));
            }
            Action::Force => {
                // The explicit force (a running plan reports it as asked to stop at once).
                self.shutdown.force(Reason::Signal(signal));
            }
            Action::Exit { status } => self.exit(signal, status),
        }
    }

    /// The hook thread's hand, if there is a hook.
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn hand(&self) -> Option<&Hand> {
        self.hand.as_ref()
    }

    /// Hands `event` to the hook thread (which waits a moment for the hook, never long).
    fn report(&self, event: Event) {
        if let Some(hand) = &self.hand {
            hand.deliver(event);
        }
    }

    fn exit(&mut self, signal: i32, status: i32) {
        match &mut self.exit {
            Exit::Process => exit_process(signal, status),
            #[cfg(test)]
            Exit::Hook(hook) => hook(signal, status),
        }
    }
}

/// Reads every byte available on a non-blocking socket and returns how many there were.
///
/// A read that does not fill `buf` took every byte the socket held (a Unix stream socket's read
/// copies from one queued write to the next until the buffer is full), so it ends the drain
/// without another read to see `WouldBlock`: a byte written after it is a delivery of its own,
/// whose wake-up byte comes after it.
pub(crate) fn drain(mut socket: &UnixStream, buf: &mut [u8]) -> usize {
    let mut total = 0;
    loop {
        match socket.read(buf) {
            Ok(0) => return total,
            Ok(n) if n < buf.len() => return total + n,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // WouldBlock: drained. Anything else cannot happen on a connected socket we own.
            Err(_) => return total,
        }
    }
}

/// Ends the process from the listener thread: `_exit(128 + n)`, as the handler does.
///
/// Not reached in a real process (invariant 4: the handler ends it on the third delivery,
/// before the thread can count it); kept so that the thread's rule is whole.
fn exit_process(_signal: i32, status: i32) -> ! {
    low_level::exit(status)
}

// ===== Registrations =====

/// The listener's signal-hook actions; dropping it unregisters them.
struct Registrations(Vec<SigId>);

impl Registrations {
    fn push(&mut self, id: SigId) {
        self.0.push(id);
    }

    fn unregister_all(&mut self) {
        for id in self.0.drain(..) {
            low_level::unregister(id);
        }
    }
}

impl Drop for Registrations {
    fn drop(&mut self) {
        self.unregister_all();
    }
}

#[cfg(test)]
mod tests {
    //! In-process tests with real signals: SIGUSR1 and SIGUSR2 only, and with the exit replaced
    //! by a hook, so no test can kill the harness. Serialized: signals are process-wide.

    use std::sync::mpsc::{self, Receiver};
    use std::sync::{Mutex, MutexGuard};
    use std::time::Duration;

    use signal_hook::consts::signal::SIGUSR1;
    use signal_hook::low_level::raise;
    use winddown_core::Phase;

    use super::*;
    use crate::escalation::shell_status;

    static SIGNALS: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SIGNALS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    const TIMEOUT: Duration = Duration::from_secs(10);

    /// A SIGUSR1 listener whose events and exits go to channels.
    fn listener(shutdown: &Shutdown) -> (Listener, Receiver<Event>, Receiver<(i32, i32)>) {
        let (events, event_rx) = mpsc::channel();
        let (exits, exit_rx) = mpsc::channel();
        let listener = Builder::empty()
            .signal(Signal::Usr1)
            .on_event(move |event| events.send(*event).unwrap())
            .on_exit(move |signal, status| exits.send((signal, status)).unwrap())
            .listen(shutdown)
            .unwrap();
        (listener, event_rx, exit_rx)
    }

    #[test]
    fn three_quick_signals_are_three_events() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let (_listener, events, exits) = listener(&shutdown);

        // All three are delivered (synchronously, by `raise`) before the thread can look.
        for _ in 0..3 {
            raise(SIGUSR1).unwrap();
        }
        let actions: Vec<_> = (0..3)
            .map(|_| events.recv_timeout(TIMEOUT).unwrap())
            .map(|event| (event.count(), event.action()))
            .collect();
        let status = shell_status(SIGUSR1);
        assert_eq!(
            actions,
            [
                (1, Action::Trigger),
                (2, Action::Force),
                (3, Action::Exit { status })
            ]
        );
        assert_eq!(exits.recv_timeout(TIMEOUT).unwrap(), (SIGUSR1, status));
        assert_eq!(shutdown.phase(), Phase::Forced);
        assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
    }

    #[test]
    fn every_signal_after_the_third_exits() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let (_listener, events, exits) = listener(&shutdown);
        for _ in 0..5 {
            raise(SIGUSR1).unwrap();
        }
        let status = shell_status(SIGUSR1);
        for _ in 0..3 {
            assert_eq!(exits.recv_timeout(TIMEOUT).unwrap(), (SIGUSR1, status));
        }
        let last = events.iter().nth(4).unwrap();
        assert_eq!((last.count(), last.action()), (5, Action::Exit { status }));
    }

    #[test]
    fn drop_acts_on_signals_delivered_before_it() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let (listener, _events, _exits) = listener(&shutdown);
        raise(SIGUSR1).unwrap();
        // The drop joins the thread after it acted on the byte already in its socket.
        drop(listener);
        assert_eq!(shutdown.phase(), Phase::Initiated);
        assert_eq!(shutdown.reason(), Some(&Reason::Signal(SIGUSR1)));
    }

    #[test]
    fn drop_acts_on_signals_delivered_while_the_thread_is_busy() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let (open_gate, gate) = mpsc::channel::<()>();
        let (events, event_rx) = mpsc::channel();
        let listener = Builder::empty()
            .signal(Signal::Usr1)
            .on_event(move |event| {
                events.send(event.count()).unwrap();
                if event.count() == 1 {
                    // Hold the thread in the middle of a round.
                    gate.recv().unwrap();
                }
            })
            .on_exit(|_, _| {})
            .listen(&shutdown)
            .unwrap();
        raise(SIGUSR1).unwrap();
        assert_eq!(event_rx.recv_timeout(TIMEOUT).unwrap(), 1);
        raise(SIGUSR1).unwrap(); // counted after the thread's drain of this round
        open_gate.send(()).unwrap();
        drop(listener);
        assert_eq!(
            shutdown.blocking().reached(Phase::Forced, None),
            Some(Phase::Forced)
        );
        assert_eq!(event_rx.try_iter().collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn drop_stops_the_thread() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let (dropped, events, _exits) = listener(&shutdown);
        drop(dropped);
        // The hook (and its sender) went with the thread.
        assert!(events.recv_timeout(TIMEOUT).is_err());
        // SIGUSR1 now has its default action again, so only send it while another listener
        // has it: the dropped one must not see it.
        let other = Shutdown::new();
        let (_other, other_events, _) = listener(&other);
        raise(SIGUSR1).unwrap();
        assert_eq!(other_events.recv_timeout(TIMEOUT).unwrap().count(), 1);
        assert!(!shutdown.is_triggered());
    }

    #[test]
    fn dropping_the_listener_from_its_hook_does_not_deadlock() {
        let _serial = serial();
        let shutdown = Shutdown::new();
        let slot: Arc<Mutex<Option<Listener>>> = Arc::default();
        let (done, done_rx) = mpsc::channel();
        let listener = Builder::empty()
            .signal(Signal::Usr1)
            .on_event({
                let slot = Arc::clone(&slot);
                move |_| {
                    drop(slot.lock().unwrap().take());
                    done.send(()).unwrap();
                }
            })
            .on_exit(|_, _| {})
            .listen(&shutdown)
            .unwrap();
        *slot.lock().unwrap() = Some(listener);
        raise(SIGUSR1).unwrap();
        done_rx.recv_timeout(TIMEOUT).unwrap();
        assert!(slot.lock().unwrap().is_none());
    }
}
