//! A virtual-clock runtime for testing shutdown sequences: deadlines are exact and take no
//! real time.
//!
//! [`VirtualRuntime`] is a small single-threaded executor with its own clock. Time moves only
//! when a test calls [`advance`](VirtualRuntime::advance), or when every task (and the future
//! given to [`block_on`](VirtualRuntime::block_on)) is waiting and a timer is pending: then the
//! clock jumps to the earliest timer, like tokio's paused clock. So a test of a 30-second
//! deadline finishes at once, and asserts exact durations.
//!
//! Enabled by the `test-util` feature (which needs `std`).
//!
//! # Examples
//!
//! ```
//! # use winddown_core as winddown;
//! use std::time::Duration;
//! use winddown::runtime::Runtime;
//! use winddown::testing::VirtualRuntime;
//!
//! let runtime = VirtualRuntime::new();
//! let elapsed = runtime.block_on({
//!     let runtime = runtime.clone();
//!     async move {
//!         let start = runtime.now();
//!         runtime.sleep(Duration::from_secs(30)).await;
//!         runtime.now() - start
//!     }
//! });
//! assert_eq!(elapsed, Duration::from_secs(30));
//! ```
//!
//! # Caveats
//!
//! A detached task that never finishes stays in the runtime; if it holds a clone of the
//! runtime, the two keep each other alive (a leak, reported by Miri) until the process ends.
//!
//! This module is test tooling, not part of the admission protocol: it takes its atomics and
//! locks from `std` directly rather than through the crate's `sync` module, and it is compiled
//! out under loom.
//!
//! Everything a test waits for must happen on this runtime's tasks. A wake-up from another OS
//! thread is seen, but the runtime cannot know one is coming: when all its tasks are idle it
//! moves the clock to the next timer at once.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::panic::AssertUnwindSafe;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::panic::catch_unwind;
use std::sync::{Mutex, MutexGuard};

use crate::runtime::{BoxFuture, Runtime, TaskOutcome};

/// A single-threaded executor with a virtual clock. Cheap to clone: clones share the executor
/// and the clock. See the [module docs](self).
#[derive(Clone, Default)]
pub struct VirtualRuntime {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    now: Duration,
    /// Pending timers by (deadline, id).
    timers: BTreeMap<(Duration, u64), Waker>,
    next_timer: u64,
    tasks: Vec<Arc<Task>>,
}

struct Task {
    future: Mutex<Option<BoxFuture<()>>>,
    /// Set by the task's waker; cleared when the executor polls it.
    woken: AtomicBool,
    end: Mutex<TaskEnd>,
}

#[derive(Default)]
struct TaskEnd {
    outcome: Option<TaskOutcome>,
    join_waker: Option<Waker>,
    cancelled: bool,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
    }
}

/// Sets a flag when woken: the `block_on` future's waker.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl VirtualRuntime {
    /// A runtime whose clock reads zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `future` to completion on this runtime, together with every spawned task, moving
    /// the clock to the next timer whenever everything is waiting. The tasks a timer wakes run
    /// before `future` looks at that instant (a task that forces the shutdown as a closer's
    /// sleep ends has forced it when the sequence sees the closer finish).
    ///
    /// # Panics
    ///
    /// If everything is waiting and no timer is pending: nothing could ever wake the future
    /// again, so the test would hang. Panics in spawned tasks are caught and reported as
    /// [`TaskOutcome::Panicked`]; a panic in `future` itself propagates.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = core::pin::pin!(future);
        let main = Arc::new(Flag(AtomicBool::new(true)));
        let main_waker = Waker::from(main.clone());
        loop {
            if main.0.swap(false, Ordering::SeqCst) {
                if let Poll::Ready(output) =
                    future.as_mut().poll(&mut Context::from_waker(&main_waker))
                {
                    // Let cancelled tasks go now rather than at the next `block_on`.
                    self.poll_tasks();
                    return output;
                }
            }
            let polled = self.poll_tasks();
            if polled || main.0.load(Ordering::SeqCst) {
                continue;
            }
            if !self.fire_next_timer() {
                panic!(
                    "VirtualRuntime::block_on: every task is waiting and no timer is pending, \
                     so nothing can ever wake them"
                );
            }
            // The tasks the timers woke run before `future` looks at that instant: a force
            // that lands as a closer's sleep ends is there when the sequence sees the closer
            // finish.
            self.poll_tasks();
        }
    }

    /// Polls every woken task once; whether any was polled.
    fn poll_tasks(&self) -> bool {
        let tasks: Vec<Arc<Task>> = lock(&self.inner.state).tasks.clone();
        let mut polled = false;
        for task in tasks {
            if !task.woken.swap(false, Ordering::SeqCst) {
                continue;
            }
            polled = true;
            let cancelled = lock(&task.end).cancelled;
            let outcome = {
                let mut slot = lock(&task.future);
                match (cancelled, slot.as_mut()) {
                    (true, None) => Some(TaskOutcome::Cancelled),
                    (false, None) => continue,
                    (true, Some(_)) => Some(TaskOutcome::Cancelled),
                    (false, Some(future)) => {
                        let waker = Waker::from(task.clone());
                        let mut cx = Context::from_waker(&waker);
                        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
                            Ok(Poll::Pending) => None,
                            Ok(Poll::Ready(())) => Some(TaskOutcome::Finished),
                            Err(payload) => {
                                Some(TaskOutcome::Panicked(crate::panic::message(&*payload)))
                            }
                        }
                    }
                }
            };
            if let Some(outcome) = outcome {
                // Drop the future outside its own lock: its destructor may wake other tasks.
                let future = lock(&task.future).take();
                drop(future);
                lock(&self.inner.state)
                    .tasks
                    .retain(|t| !Arc::ptr_eq(t, &task));
                let waker = {
                    let mut end = lock(&task.end);
                    end.outcome.get_or_insert(outcome);
                    end.join_waker.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
        polled
    }

    /// Moves the clock to the earliest timer and wakes every timer due then; whether there
    /// was one.
    fn fire_next_timer(&self) -> bool {
        let due = {
            let mut state = lock(&self.inner.state);
            let Some((&(deadline, _), _)) = state.timers.iter().next() else {
                return false;
            };
            state.now = state.now.max(deadline);
            take_due(&mut state)
        };
        for waker in due {
            waker.wake();
        }
        true
    }

    /// Moves the clock forward by `duration` and wakes the timers that are due. The tasks run
    /// at the next [`block_on`](Self::block_on) (or right away, if called from inside one).
    pub fn advance(&self, duration: Duration) {
        let due = {
            let mut state = lock(&self.inner.state);
            state.now = state.now.saturating_add(duration);
            take_due(&mut state)
        };
        for waker in due {
            waker.wake();
        }
    }

    /// Spawns `future` as a task that nobody joins.
    pub fn spawn_detached(&self, future: impl Future<Output = ()> + Send + 'static) {
        drop(self.start(Box::pin(future)));
    }

    fn start(&self, future: BoxFuture<()>) -> Arc<Task> {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            woken: AtomicBool::new(true),
            end: Mutex::new(TaskEnd::default()),
        });
        lock(&self.inner.state).tasks.push(task.clone());
        task
    }
}

fn take_due(state: &mut State) -> Vec<Waker> {
    let now = state.now;
    let later = state.timers.split_off(&(now, u64::MAX));
    core::mem::replace(&mut state.timers, later)
        .into_values()
        .collect()
}

impl Runtime for VirtualRuntime {
    fn now(&self) -> Duration {
        lock(&self.inner.state).now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let deadline = self.now().saturating_add(duration);
        Box::pin(Sleep {
            runtime: self.clone(),
            deadline,
            timer: None,
        })
    }

    fn spawn(&self, task: BoxFuture<()>) -> BoxFuture<TaskOutcome> {
        Box::pin(Join {
            task: self.start(task),
        })
    }

    fn spawn_detached(&self, task: BoxFuture<()>) {
        VirtualRuntime::spawn_detached(self, task);
    }

    /// Runs `task` inline, in the sequence's own poll, unlike the default (a thread of its
    /// own): the virtual clock moves only when everything waits, so a closer on another thread
    /// would see its deadline pass at once. A test closer that stands for a slow blocking call
    /// advances the clock itself ([`advance`](Self::advance)).
    fn spawn_blocking(&self, task: Box<dyn FnOnce() + Send + 'static>) -> crate::runtime::Blocking {
        crate::runtime::Blocking::inline(task)
    }
}

/// The timer future of [`VirtualRuntime`].
#[must_use = "futures do nothing unless polled"]
struct Sleep {
    runtime: VirtualRuntime,
    deadline: Duration,
    timer: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut state = lock(&this.runtime.inner.state);
        if let Some(key) = this.timer.take() {
            state.timers.remove(&key);
        }
        if state.now >= this.deadline {
            return Poll::Ready(());
        }
        let key = (this.deadline, state.next_timer);
        state.next_timer += 1;
        state.timers.insert(key, cx.waker().clone());
        this.timer = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.timer.take() {
            lock(&self.runtime.inner.state).timers.remove(&key);
        }
    }
}

/// The join future of [`VirtualRuntime`]: completes with how the task ended. Dropping it
/// before then cancels the task.
#[must_use = "futures do nothing unless polled"]
struct Join {
    task: Arc<Task>,
}

impl Future for Join {
    type Output = TaskOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        let mut end = lock(&self.task.end);
        match &end.outcome {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                end.join_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Join {
    fn drop(&mut self) {
        {
            let mut end = lock(&self.task.end);
            if end.outcome.is_some() {
                return;
            }
            end.cancelled = true;
            end.outcome = Some(TaskOutcome::Cancelled);
        }
        // Cancel now: drop the task's future (outside its lock: its destructor may wake other
        // tasks), so nothing it holds outlives the cancellation, not even until the next poll.
        // If the task is being polled right now (it dropped its own join), the executor drops
        // it after that poll instead.
        let future = match self.task.future.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        drop(future);
        self.task.woken.store(true, Ordering::SeqCst);
    }
}

impl core::fmt::Debug for VirtualRuntime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("VirtualRuntime")
            .field("now", &state.now)
            .field("tasks", &state.tasks.len())
            .field("timers", &state.timers.len())
            .finish()
    }
}

impl core::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl core::fmt::Debug for Join {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Join")
            .field("outcome", &lock(&self.task.end).outcome)
            .finish()
    }
}
