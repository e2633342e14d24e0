//! A job queue that stops with the service, on any executor: the shape of a library built on
//! winddown.
//!
//! A library does not own the process. It does not install signal handlers, pick a runtime or
//! decide when to stop; it is handed a [`Plan`] by the application and follows it. This crate
//! is such a library, small enough to read in one sitting: a bounded queue of async jobs run
//! by worker futures that the application spawns on whatever executor it has. It depends on
//! `winddown-core` and `async-channel` and on nothing that names a runtime (check it:
//! `cargo tree -p winddown-example-jobs`). The demo daemons use it unchanged, the tokio one
//! (`examples/demo/daemon.rs`) and the smol one (`examples/demo/daemon_smol.rs`).
//!
//! # How it follows the shutdown
//!
//! | the plan's phase      | the queue                                                         |
//! |-----------------------|-------------------------------------------------------------------|
//! | running, initiated    | takes jobs; workers run them                                      |
//! | stopping new requests | [`push`](JobQueue::push) answers [`PushError::Closed`]            |
//! | draining              | jobs already queued or running count as in flight: the drain waits for them, and the workers keep running them |
//! | closing resources     | its closer, `job queue`, tells the idle workers to return and waits until they have |
//!
//! Three pieces of winddown do this, and each is a pattern worth copying:
//!
//! - **A child scope counts the jobs.** The queue makes [`Shutdown::child`] of the plan's
//!   shutdown and enters it once per job, at [`push`](JobQueue::push); the guard travels with
//!   the job and drops when the job has run. The child is triggered and closed with its parent,
//!   and counts as in flight in the parent until it has drained, so the application's drain
//!   waits for queued work without knowing the queue exists.
//! - **Workers are not work in flight.** A worker waits for jobs forever; if it held a guard
//!   of the plan's shutdown, the drain would wait for it, and it would wait for the drain. So
//!   spawn [`JobQueue::worker`] with your executor's plain `spawn` (not a `TaskSet`). The
//!   queue counts its workers in a scope of its own, which nothing but its closer waits for.
//! - **The library closes itself.** [`JobQueue::new`] registers the closer with the plan
//!   (priority 20: before a connection pool at 10 that jobs may still use). The application
//!   only sees its line in the report.
//!
//! # Examples
//!
//! The whole life of a queue, on the core's virtual-clock runtime (any runtime does: the queue
//! never names one):
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use jobs::{JobQueue, PushError};
//! use winddown_core::testing::VirtualRuntime;
//! use winddown_core::{Config, Plan, Reason, Shutdown, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = Shutdown::new();
//! let plan = Plan::new(shutdown.clone(), Config::default());
//! let queue = JobQueue::new(&plan, 16)?;
//!
//! let runtime = VirtualRuntime::new();
//! runtime.spawn_detached(queue.worker()?); // your executor's spawn
//!
//! let sent = Arc::new(AtomicUsize::new(0));
//! for _ in 0..3 {
//!     let sent = sent.clone();
//!     queue.push(async move {
//!         sent.fetch_add(1, Ordering::Relaxed);
//!     })?;
//! }
//!
//! shutdown.trigger(Reason::requested());
//! let report = runtime.block_on(plan.run(runtime.clone()));
//! assert_eq!(report.status, Status::Completed);
//! assert_eq!(sent.load(Ordering::Relaxed), 3); // the drain waited for every queued job
//! assert_eq!(queue.done(), 3);
//! assert!(report.to_string().contains("job queue"));
//! assert_eq!(queue.push(async {}), Err(PushError::Closed));
//! # Ok(())
//! # }
//! ```
//!
//! # Limitations
//!
//! A job that never finishes holds the drain until its deadline, and then the closer until
//! its own: the report says so, and the application's deadlines, not the queue, decide when to
//! give up. Jobs are not cancelled at the close: a job is dropped only when its worker's
//! executor drops it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_channel::{Receiver, Sender, TrySendError};
use winddown_core::{Closed, Guard, Plan, Refused, Resource, ResourceKind, Shutdown};

/// The name of the queue's line in the report.
pub const NAME: &str = "job queue";

/// The queue's close priority: higher closes first, so before a connection pool at 10.
pub const PRIORITY: i32 = 20;

/// A job: any future that ends with `()`.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A job with the guard that keeps it counted in the queue's scope until it has run.
struct Queued {
    job: Job,
    /// Dropped after the job has run (or with the job, if the queue drops it unrun).
    guard: Guard,
}

/// A bounded queue of async jobs that stops with the application's [`Plan`]. Cheap to clone;
/// see the [crate docs](crate) for how it follows the shutdown.
#[derive(Clone)]
pub struct JobQueue {
    inner: Arc<Inner>,
}

struct Inner {
    /// The child scope of the plan's shutdown: one guard per queued or running job.
    jobs: Shutdown,
    /// The queue's own scope (not a child: the plan's drain must not wait for it): one guard
    /// per live worker, so the closer knows when the last has returned.
    workers: Shutdown,
    sender: Sender<Queued>,
    receiver: Receiver<Queued>,
    /// Jobs run to the end. A statistic, read by nobody who synchronizes on it: `Relaxed`.
    done: AtomicU64,
}

/// Why [`JobQueue::push`] refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The service is shutting down: admissions are closed.
    Closed,
    /// The queue holds `capacity` jobs already.
    Full,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Closed => "the job queue is shutting down",
            PushError::Full => "the job queue is full",
        })
    }
}

impl std::error::Error for PushError {}

impl JobQueue {
    /// A queue of at most `capacity` waiting jobs (at least one), following `plan`: it
    /// registers its closer, `job queue` at priority [`PRIORITY`], with the plan.
    ///
    /// The queue's slots are allocated here, all at once (async-channel's bounded queue): 32
    /// bytes each on 64-bit targets, so 2 KiB for 64 jobs, 32 KiB for 1024. Size it for the
    /// bursts you expect, not for safety: a full queue refuses with [`PushError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::JobQueue;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let queue = JobQueue::new(&plan, 64)?;
    /// assert_eq!(queue.queued(), 0);
    /// # Ok::<(), winddown_core::Refused>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`] if the plan no longer takes resources (its shutdown has begun closing them).
    pub fn new(plan: &Plan, capacity: usize) -> Result<Self, Refused> {
        let (sender, receiver) = async_channel::bounded(capacity.max(1));
        let inner = Arc::new(Inner {
            jobs: plan.shutdown().child(),
            workers: Shutdown::new(),
            sender,
            receiver,
            done: AtomicU64::new(0),
        });
        let closing = inner.clone();
        plan.register(
            Resource::new(NAME, move || async move { closing.close().await })
                .priority(PRIORITY)
                .kind(ResourceKind::Queue),
        )?;
        Ok(JobQueue { inner })
    }

    /// Queues `job` for a worker. The job counts as work in flight from now until it has run.
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::{JobQueue, PushError};
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let plan = Plan::new(shutdown.clone(), Config::default());
    /// let queue = JobQueue::new(&plan, 1)?;
    /// queue.push(async { /* send the email */ })?;
    /// assert_eq!(shutdown.in_flight(), 1); // the queue's scope, holding the job
    /// assert_eq!(queue.push(async {}), Err(PushError::Full));
    ///
    /// shutdown.close();
    /// assert_eq!(queue.push(async {}), Err(PushError::Closed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] once the plan's admissions are closed, [`PushError::Full`] when
    /// `capacity` jobs are waiting. The job is dropped unrun either way.
    pub fn push(&self, job: impl Future<Output = ()> + Send + 'static) -> Result<(), PushError> {
        let guard = self
            .inner
            .jobs
            .enter()
            .map_err(|_: Closed| PushError::Closed)?;
        let queued = Queued {
            job: Box::pin(job),
            guard,
        };
        // A refused job drops here, its guard with it.
        self.inner.sender.try_send(queued).map_err(|err| match err {
            TrySendError::Full(_) => PushError::Full,
            // Only the closer closes the channel, after the admissions closed.
            TrySendError::Closed(_) => PushError::Closed,
        })
    }

    /// A worker: a future that runs queued jobs one after the other, and returns when the
    /// queue's closer has run and no job is left. Spawn it (as many as you want running at
    /// once) with your executor's plain `spawn`, not as tracked work in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::JobQueue;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let queue = JobQueue::new(&plan, 8)?;
    /// let worker = queue.worker()?;
    /// // tokio::spawn(worker); smol::spawn(worker).detach(); executor.spawn(worker); ...
    /// # drop(worker);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Closed`] once the closer has begun: a new worker would have nothing to do.
    pub fn worker(&self) -> Result<impl Future<Output = ()> + Send + 'static, Closed> {
        let alive = self.inner.workers.enter()?;
        let inner = self.inner.clone();
        Ok(async move {
            // `recv` fails only when the closer has closed the channel and it is empty.
            while let Ok(Queued { job, guard }) = inner.receiver.recv().await {
                job.await;
                inner.done.fetch_add(1, Ordering::Relaxed);
                drop(guard);
            }
            drop(alive);
        })
    }

    /// How many jobs have run to the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::JobQueue;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// let queue = JobQueue::new(&Plan::new(Shutdown::new(), Config::default()), 8)?;
    /// assert_eq!(queue.done(), 0);
    /// # Ok::<(), winddown_core::Refused>(())
    /// ```
    pub fn done(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// How many jobs are waiting for a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use jobs::JobQueue;
    /// use winddown_core::{Config, Plan, Shutdown};
    ///
    /// let queue = JobQueue::new(&Plan::new(Shutdown::new(), Config::default()), 8)?;
    /// queue.push(async {})?;
    /// assert_eq!(queue.queued(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.inner.sender.len()
    }
}

impl Inner {
    /// The closer: no new workers, wake the idle ones (closing the channel makes their `recv`
    /// fail once it is empty), and wait until every worker has returned.
    async fn close(&self) {
        self.workers.close();
        self.sender.close();
        self.workers.drained().await;
    }
}

impl fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobQueue")
            .field("queued", &self.queued())
            .field("done", &self.done())
            .field("workers", &self.inner.workers.in_flight())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winddown_core::testing::VirtualRuntime;
    use winddown_core::{Config, Reason, Status};

    #[test]
    fn the_drain_waits_for_queued_jobs_and_the_closer_for_the_workers() {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        let queue = JobQueue::new(&plan, 4).unwrap();
        let runtime = VirtualRuntime::new();
        for _ in 0..2 {
            runtime.spawn_detached(queue.worker().unwrap());
        }
        for _ in 0..4 {
            queue.push(async {}).unwrap();
        }
        shutdown.trigger(Reason::requested());
        let report = runtime.block_on(plan.run(runtime.clone()));
        assert_eq!(report.status, Status::Completed, "{report}");
        assert_eq!(queue.done(), 4);
        assert_eq!(queue.inner.workers.in_flight(), 0);
        assert!(queue.worker().is_err());
    }

    #[test]
    fn without_a_worker_the_drain_times_out_on_the_queued_job() {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        let queue = JobQueue::new(&plan, 4).unwrap();
        queue.push(async {}).unwrap();
        shutdown.trigger(Reason::requested());
        let runtime = VirtualRuntime::new();
        let report = runtime.block_on(plan.run(runtime.clone()));
        assert_eq!(report.status, Status::TimedOut, "{report}");
        assert_eq!(queue.done(), 0);
    }
}
