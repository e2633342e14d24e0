//! The closing of resources and flush hooks: each closer of a phase in turn, as a bounded step
//! of the sequence (`run.rs`), and what its step's end makes of its outcome.
//!
//! Reached only through [`Close`](super::state::Close), which the plan's registration of a
//! resource or flush hook stores (`Plan::register`, `Plan::flush`): a program that registers
//! none links no code to close one (the deadlines and records of each closer, its async
//! closer's polling, a blocking closer's task, their outcomes). The sequence lends itself as a [`CloseHost`] for what this
//! needs of it: its clock, the force and the graceful deadline, and its bounded step.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;
use core::time::Duration;

use super::draft::Draft;
use super::record::Recorder;
use super::report::{Outcome, ResourceRecord};
use super::resource::Closer;
use super::runtime::TaskOutcome;
use super::state::{Closing, PlanInner, Untaken};
use super::step::{CloseHost, Join, Local, Slot, StepEnd, StepRuntime};
use crate::{Phase, Resource};

/// What a registration stores in the plan: this file's code.
pub(super) const CLOSING: Closing = Closing {
    close_all,
    taken,
    abandoned,
};

/// The sequence took `resources` and `flushes`, in order, at `at`: until each begins, it is
/// reported skipped if the run is abandoned.
fn taken(draft: &mut Draft, resources: &[Resource], flushes: &[Resource], at: Duration) {
    // Queued last first: each closer that begins pops its record off the end.
    push_skipped(&mut draft.queued_resources, resources, at, true);
    push_skipped(&mut draft.queued_flushes, flushes, at, true);
}

/// The run was abandoned at `at`: the closer running is reported cancelled (as it began), the
/// queued ones and `untaken` (not taken by the sequence yet) skipped.
fn abandoned(draft: &mut Draft, untaken: Untaken<'_>, at: Duration) {
    if let Some((phase, mut record)) = draft.running.take() {
        record.duration = at.saturating_sub(record.started);
        draft.list(phase).push(record);
    }
    for phase in [Phase::ClosingResources, Phase::FlushingBuffers] {
        // Queued last first: popped, they come in order.
        let mut queued = core::mem::take(draft.queue(phase));
        while let Some(mut record) = queued.pop() {
            record.started = at;
            draft.list(phase).push(record);
        }
    }
    if let Some((resources, flushes)) = untaken {
        push_skipped(&mut draft.resources, resources, at, false);
        push_skipped(&mut draft.flushes, flushes, at, false);
    }
}

/// Closes `closers`, the closers of `phase` in order, on `host`'s sequence (of the plan
/// `inner`) and `runtime`, within `end` (the phase's own deadline, if it has one). As the plan
/// keeps it: [`Close`](super::state::Close).
pub(super) fn close_all<'s>(
    host: &'s mut (dyn CloseHost + 's),
    runtime: &'s dyn StepRuntime,
    inner: &'s PlanInner,
    closers: Vec<Resource>,
    phase: Phase,
    end: Option<Duration>,
) -> Pin<Box<dyn Future<Output = ()> + Send + 's>> {
    Box::pin(async move {
        let record = Recorder::new(inner);
        for resource in closers {
            let Resource {
                deadline, closer, ..
            } = resource;
            let own = deadline.unwrap_or(inner.config.close());
            let outcome = match begin(&mut *host, &record, own, phase, end) {
                Some((now, own)) => {
                    close_one(&mut *host, runtime, closer.into_inner(), now, own, phase).await
                }
                None => Outcome::Skipped,
            };
            // The clock as the closer's step ended (read there), or as it was skipped.
            let at = host.since_start(host.last_clock());
            record.closer_ended(phase, outcome, at);
        }
    })
}

/// The next closer of `phase` begins, with `own` its own deadline, within `end`:
/// `Some((now, own))`, the clock and how long it may run, or `None` if it is skipped (recorded
/// as such, with the reason).
fn begin(
    host: &mut (dyn CloseHost + '_),
    record: &Recorder<'_>,
    own: Duration,
    phase: Phase,
    end: Option<Duration>,
) -> Option<(Duration, Duration)> {
    let now = host.read_clock();
    let own = end.map_or(own, |end| own.min(end.saturating_sub(now)));
    // Once forced, only a flush hook runs, within what is left of the forced budget.
    let forced_left = host.before_closer(phase, now);
    let own = forced_left.map_or(own, |left| own.min(left));
    let runs = !own.is_zero();
    // Its step's own deadline is recorded with it (one lock, not two).
    let step_end = runs.then(|| host.since_start(now.saturating_add(own)));
    record.closer_began(phase, host.since_start(now), step_end);
    if !runs && forced_left.is_none() {
        // The phase's own deadline has passed: no time to start this one.
        record.out_of_time();
    }
    runs.then_some((now, own))
}

/// Runs one closer from `now`, within `own` (and the graceful deadline): an async one on
/// the sequence's own task (its step polls it), a blocking one where the runtime puts
/// blocking work.
async fn close_one(
    host: &mut (dyn CloseHost + '_),
    runtime: &dyn StepRuntime,
    closer: Closer,
    now: Duration,
    own: Duration,
    phase: Phase,
) -> Outcome {
    let own_end = now.saturating_add(own);
    let join = match closer {
        Closer::Async(closer) => Join::Async(Local::new(runtime, closer)),
        Closer::Blocking(closer, start) => {
            // Its own slot: one abandoned at its deadline (it runs on, detached) leaves its
            // result where nobody looks.
            let slot = Slot::default();
            let put = Arc::clone(&slot);
            let join = runtime.spawn_blocking(Box::new(move || {
                let result = closer();
                *put.lock() = Some(result);
            }));
            // The default `spawn_blocking` leaves the start to the closer's own function.
            Join::Blocking(join.start_unstarted(start), slot)
        }
    };
    let mut join = pin!(join);
    // Most async closers have nothing to wait for and finish in their first poll: polled
    // once here, they need no bounded step (no timer, no watch for a force, no boxed wait;
    // no deadline can be acted on in the middle of a poll anyway); the clock says whether
    // they ended late. One still waiting is polled again by its step at once.
    if let Join::Async(local) = &mut *join {
        let first = poll_fn(|cx| Poll::Ready(local.poll(cx))).await;
        if let Poll::Ready(done) = first {
            let late = host.ended(own_end, phase);
            return outcome(done, local.result.take(), late);
        }
    }
    // One wait for both kinds, so that the step is awaited in one place.
    let end = host.wait(join.as_mut(), own_end, phase).await;
    match end {
        StepEnd::Done(done, late) => {
            let result = match &mut *join {
                Join::Async(local) => local.result.take(),
                Join::Blocking(_, slot) => slot.lock().take(),
            };
            outcome(done, result, late)
        }
        StepEnd::Forced | StepEnd::Graceful => Outcome::Cancelled,
        StepEnd::OwnDeadline => Outcome::TimedOut,
    }
}

/// The outcome of a closer whose step ended with `done`, `result` what it returned if it
/// finished, `late` whether past its own deadline.
fn outcome(done: TaskOutcome, result: Option<Result<(), String>>, late: bool) -> Outcome {
    match done {
        TaskOutcome::Finished => {
            let outcome = match result {
                Some(Ok(())) => Outcome::Ok,
                Some(Err(message)) => Outcome::Error(message),
                // Finished without storing a result cannot happen; count it as a failure.
                None => Outcome::Panicked(None),
            };
            late_if(outcome, late)
        }
        TaskOutcome::Panicked(message) => late_if(Outcome::Panicked(message), late),
        TaskOutcome::Cancelled => Outcome::Cancelled,
    }
}

/// `outcome`, or [`Outcome::Late`] around it when its step finished past its own deadline.
fn late_if(outcome: Outcome, late: bool) -> Outcome {
    if late {
        Outcome::Late(Box::new(outcome))
    } else {
        outcome
    }
}

/// Pushes the records of `resources`, none of which has run, onto `out`: the last first with
/// `last_first`. One loop for every list of them, rather than an iterator chain per list.
fn push_skipped(
    out: &mut Vec<ResourceRecord>,
    resources: &[Resource],
    at: Duration,
    last_first: bool,
) {
    let count = resources.len();
    out.reserve(count);
    for nth in 0..count {
        let index = if last_first { count - 1 - nth } else { nth };
        // Always there (`index < count`); `get` leaves no bounds panic in the loop.
        if let Some(resource) = resources.get(index) {
            out.push(skipped(resource, at));
        }
    }
}

/// The record of a closer that has not run.
fn skipped(resource: &Resource, at: Duration) -> ResourceRecord {
    ResourceRecord {
        name: resource.name.clone(),
        kind: resource.kind.clone(),
        priority: resource.priority,
        outcome: Outcome::Skipped,
        started: at,
        duration: Duration::ZERO,
    }
}
