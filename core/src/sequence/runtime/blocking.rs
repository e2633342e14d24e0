//! Blocking closers: where they run, and the future that tells how they ended.
//!
//! A blocking closer ([`Resource::blocking`](crate::Resource::blocking)) cannot be cancelled:
//! once it runs, only its own return ends it. Run inside a runtime's task, a closer that hangs
//! holds that task's thread, so on a current-thread runtime no timer fires again (no deadline,
//! no force), and a multi-thread runtime's drop waits for it forever. So with `std` a blocking
//! closer runs on a thread of its own, which the sequence stops waiting for at the deadline
//! (the thread is detached and its result dropped); the runtime's threads stay free.
//!
//! Without `std` there are no threads: the closer runs inline, in the poll of the [`Blocking`]
//! future, as a quick synchronous call. [`VirtualRuntime`](crate::testing::VirtualRuntime) does
//! the same on purpose, so a test closer that advances the virtual clock stays deterministic.

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::outcome::TaskOutcome;

// A blocking task, as `Runtime::spawn_blocking` takes it.
pub(crate) type BlockingTask = Box<dyn FnOnce() + Send + 'static>;

/// A blocking task started by
/// [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking): completes with how it
/// ended.
///
/// Dropping it abandons the task: an inline task that has not run yet never runs; a task on its
/// own thread runs on, detached, and its outcome is dropped.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::runtime::{Blocking, TaskOutcome};
///
/// let outcome = futures_lite::future::block_on(Blocking::inline(Box::new(|| {})));
/// assert_eq!(outcome, TaskOutcome::Finished);
/// ```
#[must_use = "a blocking task is abandoned when its future is dropped"]
pub struct Blocking {
    state: State,
}

enum State {
    /// Runs in the first poll.
    Inline(Option<BlockingTask>),
    /// What the default [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking)
    /// returns: not started yet, for the sequence to start with
    /// [`start_unstarted`](Blocking::start_unstarted); polled as it is, it runs inline.
    Unstarted(Option<BlockingTask>),
    /// Runs on its own thread; the outcome arrives through the slot.
    #[cfg(all(feature = "std", not(loom)))]
    Thread(alloc::sync::Arc<thread::Slot>),
}

impl Blocking {
    /// Runs `task` inline, on the thread that first polls the future, and catches its panic
    /// (with `std`; without it a panic is the target's panic).
    pub fn inline(task: Box<dyn FnOnce() + Send + 'static>) -> Self {
        Blocking {
            state: State::Inline(Some(task)),
        }
    }

    /// Runs `task` on a thread of its own, named `winddown-blocking`. If the thread cannot be
    /// started, `task` runs inline instead (see [`inline`](Self::inline)).
    #[cfg(all(feature = "std", not(loom)))]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn thread(task: Box<dyn FnOnce() + Send + 'static>) -> Self {
        match thread::start(task) {
            Ok(slot) => Blocking {
                state: State::Thread(slot),
            },
            Err(task) => Self::inline(task),
        }
    }

    /// What the default [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking)
    /// returns: `task`, not started. The sequence starts it with
    /// [`start_unstarted`](Self::start_unstarted), on the thread of [`default_for`]; so only a
    /// program that makes a blocking closer links that thread. Polled as it is, it runs inline.
    ///
    /// [`default_for`]: Self::default_for
    pub(crate) fn unstarted(task: BlockingTask) -> Self {
        Blocking {
            state: State::Unstarted(Some(task)),
        }
    }

    /// Starts a task that the default
    /// [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking) returned unstarted
    /// with `start`; any other is returned as it is (a runtime's own `spawn_blocking` started it
    /// already). The sequence calls it with the start that
    /// [`Resource::blocking`](crate::Resource::blocking) stored beside the closer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use winddown_core as winddown;
    /// use winddown::runtime::{Blocking, TaskOutcome};
    ///
    /// // Started already (inline): `start` is not called.
    /// let started = Blocking::inline(Box::new(|| {})).start_unstarted(|_| unreachable!());
    /// assert_eq!(futures_lite::future::block_on(started), TaskOutcome::Finished);
    /// ```
    pub fn start_unstarted(self, start: fn(Box<dyn FnOnce() + Send + 'static>) -> Self) -> Self {
        match self.state {
            State::Unstarted(Some(task)) => start(task),
            state => Blocking { state },
        }
    }

    /// Where a blocking closer runs with the default
    /// [`Runtime::spawn_blocking`](crate::runtime::Runtime::spawn_blocking): on its own thread
    /// with `std`, inline without. Named by [`Resource::blocking`](crate::Resource::blocking)
    /// only, so that a program without a blocking closer does not link the thread.
    pub(crate) fn default_for(task: BlockingTask) -> Self {
        #[cfg(all(feature = "std", not(loom)))]
        {
            Self::thread(task)
        }
        #[cfg(not(all(feature = "std", not(loom))))]
        {
            Self::inline(task)
        }
    }
}

impl Future for Blocking {
    type Output = TaskOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
        #[cfg(not(all(feature = "std", not(loom))))]
        let _ = cx;
        // `Blocking` is `Unpin`: it holds only boxes and an `Arc`.
        let this = self.get_mut();
        match &mut this.state {
            State::Inline(task) | State::Unstarted(task) => match task.take() {
                Some(task) => Poll::Ready(run_caught(task)),
                // Polled again after it completed: a contract violation of `Future`; answer the
                // same way rather than panic.
                None => Poll::Ready(TaskOutcome::Cancelled),
            },
            #[cfg(all(feature = "std", not(loom)))]
            State::Thread(slot) => slot.poll(cx),
        }
    }
}

impl fmt::Debug for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.state {
            State::Inline(_) => "inline",
            State::Unstarted(_) => "unstarted",
            #[cfg(all(feature = "std", not(loom)))]
            State::Thread(_) => "thread",
        };
        f.debug_struct("Blocking").field("runs", &kind).finish()
    }
}

/// Runs `task` here, catching its panic where unwinding can be caught.
pub(crate) fn run_caught(task: BlockingTask) -> TaskOutcome {
    #[cfg(all(feature = "std", not(loom)))]
    {
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(task)) {
            Ok(()) => TaskOutcome::Finished,
            Err(payload) => TaskOutcome::Panicked(crate::panic::message(&*payload)),
        }
    }
    #[cfg(not(all(feature = "std", not(loom))))]
    {
        task();
        TaskOutcome::Finished
    }
}

#[cfg(all(feature = "std", not(loom)))]
mod thread {
    use alloc::sync::Arc;
    use core::task::{Context, Poll, Waker};

    use super::super::outcome::TaskOutcome;
    use super::BlockingTask;
    use crate::raw::Lock;

    /// Where the thread leaves the outcome and the future leaves its waker.
    #[derive(Default)]
    pub(super) struct Slot {
        state: Lock<(Option<TaskOutcome>, Option<Waker>)>,
    }

    /// Starts `task` on its own thread, or hands it back if no thread could be started.
    pub(super) fn start(task: BlockingTask) -> Result<Arc<Slot>, BlockingTask> {
        let slot = Arc::new(Slot::default());
        // The task travels through a shared cell so that a failed spawn can hand it back: the
        // closure given to `spawn` is dropped, unrun, when the spawn fails.
        let cell = Arc::new(Lock::new(Some(task)));
        let spawned = std::thread::Builder::new()
            .name("winddown-blocking".into())
            .spawn({
                let slot = slot.clone();
                let cell = cell.clone();
                move || {
                    let task = cell.lock().take();
                    if let Some(task) = task {
                        slot.finish(super::run_caught(task));
                    }
                }
            });
        match spawned {
            // The thread is detached: the join handle is dropped here.
            Ok(_) => Ok(slot),
            // The thread never started, so the task is still in the cell.
            Err(_) => match cell.lock().take() {
                Some(task) => Err(task),
                None => Ok(slot),
            },
        }
    }

    impl Slot {
        fn finish(&self, outcome: TaskOutcome) {
            let waker = {
                let mut state = self.state.lock();
                state.0 = Some(outcome);
                state.1.take()
            };
            // Woken outside the lock (the rule in `Lock`'s docs).
            if let Some(waker) = waker {
                waker.wake();
            }
        }

        pub(super) fn poll(&self, cx: &mut Context<'_>) -> Poll<TaskOutcome> {
            let old = {
                let mut state = self.state.lock();
                if let Some(outcome) = state.0.take() {
                    return Poll::Ready(outcome);
                }
                match &state.1 {
                    Some(waker) if waker.will_wake(cx.waker()) => None,
                    _ => state.1.replace(cx.waker().clone()),
                }
            };
            // A replaced waker is dropped outside the lock.
            drop(old);
            Poll::Pending
        }
    }
}
