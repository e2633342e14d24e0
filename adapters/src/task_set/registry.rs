//! What the tasks themselves touch: names, ends, failures, idle waiters. Not generic, and holds
//! no join handle, so a task holding it makes no reference cycle with its own handle.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use winddown_core::{Guard, Reason, Shutdown, TaskFailure};

use super::handle::Cell;
use super::lock;
use super::outcome::{OnFailure, TaskExit};

pub(super) struct Registry {
    pub(super) shutdown: Shutdown,
    pub(super) tasks: Mutex<Tasks>,
}

#[derive(Default)]
pub(super) struct Tasks {
    next_id: u64,
    pub(super) running: std::collections::BTreeMap<u64, Cow<'static, str>>,
    pub(super) ended: Vec<u64>,
    pub(super) failures: Vec<TaskFailure>,
    pub(super) on_failure: OnFailure,
    /// Woken when `running` becomes empty (invariant 3).
    idle_waiters: Vec<Waker>,
    /// Triggered when `running` becomes empty (invariant 3).
    pub(super) trigger_when_idle: Option<Reason>,
}

impl Registry {
    pub(super) fn new(shutdown: Shutdown) -> Self {
        Registry {
            shutdown,
            tasks: Mutex::new(Tasks::default()),
        }
    }

    pub(super) fn start(&self, name: Cow<'static, str>) -> u64 {
        let mut tasks = lock(&self.tasks);
        let id = tasks.next_id;
        tasks.next_id += 1;
        tasks.running.insert(id, name);
        id
    }

    /// Records a failure and applies the policy.
    pub(super) fn failed(&self, failure: TaskFailure) {
        let trigger = {
            let mut tasks = lock(&self.tasks);
            let trigger = tasks.on_failure == OnFailure::Trigger;
            let reason = trigger.then(|| Reason::error(format_args!("task {failure}")));
            tasks.failures.push(failure);
            reason
        };
        // Outside the lock: the trigger runs hooks. Changes nothing if already triggered.
        if let Some(reason) = trigger {
            self.shutdown.trigger(reason);
        }
    }

    fn end(&self, id: u64) {
        let (waiters, trigger) = {
            let mut tasks = lock(&self.tasks);
            tasks.running.remove(&id);
            tasks.ended.push(id);
            if tasks.running.is_empty() {
                (
                    std::mem::take(&mut tasks.idle_waiters),
                    tasks.trigger_when_idle.take(),
                )
            } else {
                (Vec::new(), None)
            }
        };
        if let Some(reason) = trigger {
            self.shutdown.trigger(reason);
        }
        for waiter in waiters {
            waiter.wake();
        }
    }

    /// See `TaskSet::report_to`.
    pub(super) fn report_to(self: &Arc<Self>, plan: &winddown_core::Plan) {
        plan.name_in_flight({
            let registry = self.clone();
            move |names| names.extend(registry.names())
        });
        plan.collect_failures({
            let registry = self.clone();
            move |failures| failures.extend(registry.failures())
        });
    }

    pub(super) fn set_on_failure(&self, policy: OnFailure) {
        lock(&self.tasks).on_failure = policy;
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.tasks).running.len()
    }

    pub(super) fn failures(&self) -> Vec<TaskFailure> {
        lock(&self.tasks).failures.clone()
    }

    pub(super) fn panicked(&self) -> Vec<(String, Option<String>)> {
        lock(&self.tasks)
            .failures
            .iter()
            .filter(|failure| failure.panicked)
            .map(|failure| (failure.name.clone(), failure.message.clone()))
            .collect()
    }

    /// See `TaskSet::trigger_when_idle` (invariant 4). The first reason waiting stays: a later
    /// call before the set empties changes nothing.
    pub(super) fn trigger_when_idle(&self, reason: Reason) {
        let now = {
            let mut tasks = lock(&self.tasks);
            if tasks.running.is_empty() {
                Some(reason)
            } else {
                tasks.trigger_when_idle.get_or_insert(reason);
                None
            }
        };
        if let Some(reason) = now {
            self.shutdown.trigger(reason);
        }
    }

    pub(super) fn names(&self) -> Vec<String> {
        lock(&self.tasks)
            .running
            .values()
            .map(|name| name.to_string())
            .collect()
    }
}

/// Owned by a task's future: dropping it (the future completed, panicked or was cancelled)
/// ends the task, in the order invariant 1 needs, then tells its handle how it ended.
pub(super) struct TaskEnd<E> {
    pub(super) registry: Arc<Registry>,
    pub(super) id: u64,
    pub(super) guard: Option<Guard>,
    pub(super) cell: Arc<Cell<E>>,
    /// How it ended; `None` (cancelled) until the future completes.
    pub(super) exit: Option<TaskExit<E>>,
}

impl<E> Drop for TaskEnd<E> {
    fn drop(&mut self) {
        self.registry.end(self.id);
        // After the name is gone (invariant 1).
        drop(self.guard.take());
        // Last: whoever awaits the handle sees the task gone from the set and the drain.
        self.cell
            .set(self.exit.take().unwrap_or(TaskExit::Cancelled));
    }
}

/// Completes when no task of a [`TaskSet`](crate::TaskSet) is running: made by
/// [`TaskSet::idle`](crate::TaskSet::idle).
///
/// # Examples
///
/// See [`TaskSet::idle`](crate::TaskSet::idle).
///
/// # Cancel safety
///
/// Cancel-safe: dropping it loses nothing.
#[must_use = "futures do nothing unless polled"]
pub struct Idle {
    pub(super) registry: Arc<Registry>,
}

impl Future for Idle {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut tasks = lock(&self.registry.tasks);
        if tasks.running.is_empty() {
            return Poll::Ready(());
        }
        // Checked and registered under the lock `end` takes: the last end cannot slip between.
        if !tasks.idle_waiters.iter().any(|w| w.will_wake(cx.waker())) {
            tasks.idle_waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl fmt::Debug for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idle")
            .field("running", &lock(&self.registry.tasks).running.len())
            .finish()
    }
}
