//! The hook thread: the [`Builder::on_event`](crate::Builder::on_event) hook runs here, never on
//! the listener thread nor on a listener task's runtime thread, so a hook that blocks (a log
//! write to a pipe nobody reads, a lock) cannot hold a trigger or a force back, nor a runtime.
//!
//! The listener hands each event over and waits for the hook to return, for at most
//! [`HOOK_WAIT`]: a hook that returns in time has run before the action takes effect, so what
//! it writes comes before whatever the shutdown's waiters write in response. A hook that takes
//! longer is left running; the listener goes on, and does not wait again while that hook has
//! not returned (later events queue behind it).
//!
//! The listener thread waits blocking ([`Hand::deliver`]). A listener task must not block its
//! runtime's thread, so it waits as a future ([`Hand::hand_over`], then
//! [`Hand::poll_returned`], woken by the hook thread, beside its runtime's timer for the
//! deadline): a hook that blocks holds neither the listener thread nor a runtime thread.
//!
//! A hook that never blocks may run inline instead
//! ([`Builder::on_event_inline`](crate::Builder::on_event_inline)): [`Hand::inline`]'s calls it
//! where the listener runs, at the moment the threaded hook would be handed the event, and
//! there is no thread and no wait. The invariants below are the hook thread's.
//!
//! # Invariants
//!
//! 1. Events reach the hook in the order they were handed over, each exactly once, unless the
//!    listener is dropped while the hook is still blocked (then the rest are never run).
//! 2. The listener waits at most [`HOOK_WAIT`] per event, and not at all while an earlier event
//!    is still running: one stuck hook delays the listener by one [`HOOK_WAIT`], once.
//! 3. `done <= sent`, both only grow; event number `n` (1-based) has returned from the hook
//!    once `done >= n`.
//! 4. A task waiting for event `n` leaves its waker in `waker` while `done < n`; the hook
//!    thread takes it each time `done` grows, and wakes it after releasing the lock (a wake
//!    may run the task's executor code). A task that finds `done >= n` does not wait.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::listener::Event;

/// The hook type: see [`Builder::on_event`](crate::Builder::on_event).
pub(crate) type Hook = Box<dyn FnMut(&Event) + Send + 'static>;

/// How long the listener waits for the hook to return before it acts anyway.
pub(crate) const HOOK_WAIT: Duration = Duration::from_millis(500);

/// The name of the hook thread.
const THREAD_NAME: &str = "winddown-signals-hook";

/// The listener's side of the hook: hands events to the hook thread, or, for a hook that
/// never blocks ([`Builder::on_event_inline`](crate::Builder::on_event_inline)), calls it where
/// the listener runs. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Hand(Arc<dyn HandOff>);

/// The hook thread, owned by the [`Listener`](crate::Listener): stops it on drop.
pub(crate) struct HookThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Signalled when an event is queued, when the hook returns, and at the close.
    changed: Condvar,
}

struct State {
    queue: VecDeque<Event>,
    /// Events handed over (invariant 3).
    sent: u64,
    /// Events the hook has returned from (invariant 3).
    done: u64,
    /// No more events will come: the thread ends once the queue is empty.
    closed: bool,
    /// A listener task waiting for the hook to return (invariant 4).
    waker: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code of ours panics while holding it, and the hook runs outside it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl HookThread {
    /// Starts the thread that runs `hook`.
    pub(crate) fn start(mut hook: Hook) -> io::Result<(HookThread, Hand)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                sent: 0,
                done: 0,
                closed: false,
                waker: None,
            }),
            changed: Condvar::new(),
        });
        let thread = thread::Builder::new().name(THREAD_NAME.into()).spawn({
            let shared = Arc::clone(&shared);
            move || run(&shared, &mut hook)
        })?;
        let hand = Hand(Arc::clone(&shared) as Arc<dyn HandOff>);
        Ok((
            HookThread {
                shared,
                thread: Some(thread),
            },
            hand,
        ))
    }

    /// The hook thread's id: a drop from the hook itself must not wait for itself.
    fn id(&self) -> Option<ThreadId> {
        self.thread.as_ref().map(|thread| thread.thread().id())
    }
}

/// The hook thread's loop (invariant 1).
fn run(shared: &Shared, hook: &mut Hook) {
    let mut state = shared.lock();
    loop {
        let Some(event) = state.queue.pop_front() else {
            if state.closed {
                return;
            }
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            continue;
        };
        drop(state);
        // A panicking hook must not stop the hook thread. The panic hook has printed it.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(&event)));
        state = shared.lock();
        state.done += 1;
        shared.changed.notify_all();
        // Invariant 4: woken outside the lock.
        if let Some(waker) = state.waker.take() {
            drop(state);
            waker.wake();
            state = shared.lock();
        }
    }
}

impl Hand {
    /// The hand of a hook that runs where the listener runs.
    pub(crate) fn inline(hook: Hook) -> Hand {
        Hand(Arc::new(Inline(Mutex::new(hook))))
    }

    /// Hands `event` to the hook, and waits for the hook to return from it for at most
    /// [`HOOK_WAIT`], not at all if the hook has not returned from an earlier event
    /// (invariant 2). For the listener thread.
    pub(crate) fn deliver(&self, event: Event) {
        if let Some(number) = self.0.hand_over(event) {
            self.0.wait_returned(number);
        }
    }

    /// Hands `event` to the hook without waiting. Returns the event's number if the listener
    /// should wait for the hook to return from it (for at most [`HOOK_WAIT`]): `None` while
    /// the hook has not returned from an earlier event (invariant 2).
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn hand_over(&self, event: Event) -> Option<u64> {
        self.0.hand_over(event)
    }

    /// Whether the hook has returned from event `number` (from [`hand_over`](Self::hand_over));
    /// if not, wakes `cx` when it does (invariant 4). For the listener tasks, which bound the
    /// wait with their runtime's timer.
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    pub(crate) fn poll_returned(&self, number: u64, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_returned(number, cx)
    }
}

/// Where a [`Hand`] hands events: the hook thread ([`Shared`]) or the hook itself ([`Inline`]).
/// A `dyn`, made only by [`HookThread::start`] and [`Hand::inline`], which the builder names
/// only with a hook: a listener without one links neither.
trait HandOff: Send + Sync {
    /// [`Hand::hand_over`].
    fn hand_over(&self, event: Event) -> Option<u64>;

    /// Waits for the hook to return from event `number`, for at most [`HOOK_WAIT`].
    fn wait_returned(&self, _number: u64) {}

    /// [`Hand::poll_returned`].
    #[cfg_attr(not(any(feature = "async-io", feature = "tokio")), allow(dead_code))]
    fn poll_returned(&self, _number: u64, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A hook that runs where the listener runs, at once: it has returned by the time the listener
/// acts, so there is nothing to wait for.
struct Inline(Mutex<Hook>);

impl HandOff for Inline {
    fn hand_over(&self, event: Event) -> Option<u64> {
        let mut hook = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A panicking hook must not stop the listener. The panic hook has printed it.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(&event)));
        None
    }
}

impl HandOff for Shared {
    fn hand_over(&self, event: Event) -> Option<u64> {
        let mut state = self.lock();
        let idle = state.done == state.sent;
        state.queue.push_back(event);
        state.sent += 1;
        let number = state.sent;
        self.changed.notify_all();
        idle.then_some(number)
    }

    fn wait_returned(&self, number: u64) {
        let mut state = self.lock();
        let deadline = Instant::now() + HOOK_WAIT;
        while state.done < number {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn poll_returned(&self, number: u64, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.done >= number {
            return Poll::Ready(());
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            empty => *empty = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for HookThread {
    /// Lets the hook finish the events handed over before the drop, for at most [`HOOK_WAIT`],
    /// then stops the thread: at once if it is idle, else when its hook returns (it is not
    /// waited for: a blocked hook must not block the drop).
    fn drop(&mut self) {
        let own = self.id() == Some(thread::current().id());
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.changed.notify_all();
        let deadline = Instant::now() + HOOK_WAIT;
        while !own && state.done < state.sent {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        let finished = state.done == state.sent;
        // A listener task's waker would keep its task alive as long as a stuck hook runs.
        let waker = state.waker.take();
        drop(state);
        drop(waker);
        if let Some(thread) = self.thread.take() {
            if finished && !own {
                // Idle and closed: it returns at once.
                let _ = thread.join();
            }
            // Otherwise detached: it ends when its hook returns, or with the process.
        }
    }
}
