//! Property tests: random sequences of operations on several handles, guards, child scopes and
//! waiter futures, checked step by step against a plain sequential model of what the docs
//! promise.
//!
//! The case count comes from `PROPTEST_CASES` (CI sets 10,000).
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use proptest::prelude::*;
use winddown_core::{Guard, Phase, Reason, Shutdown};

/// One operation. Indices pick among what exists at that step, modulo its length.
#[derive(Debug, Clone)]
enum Op {
    Enter {
        handle: usize,
    },
    DropGuard {
        guard: usize,
    },
    /// Fork a live guard: never refused, counted like the guard it forks from.
    Fork {
        guard: usize,
    },
    /// Idempotent: only the first trigger of a scope changes anything, and says so.
    Trigger {
        handle: usize,
        signal: i32,
    },
    Advance {
        handle: usize,
        to: usize,
    },
    Close {
        handle: usize,
    },
    Force {
        handle: usize,
    },
    CloneHandle {
        handle: usize,
    },
    DropHandle {
        handle: usize,
    },
    Child {
        handle: usize,
    },
    /// Make a waiter future on a handle and poll it once: `kind` 0 is `triggered`, 1 is
    /// `drained`, 2 and up `reached(Phase::ALL[kind - 2])`.
    Wait {
        handle: usize,
        kind: usize,
    },
    /// Poll a waiter again, with a new waker (as when a task moves) or the same one.
    PollWaiter {
        waiter: usize,
        new_waker: bool,
    },
    /// Drop a waiter (cancel it).
    DropWaiter {
        waiter: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0..64usize;
    prop_oneof![
        4 => index.clone().prop_map(|handle| Op::Enter { handle }),
        3 => index.clone().prop_map(|guard| Op::DropGuard { guard }),
        2 => index.clone().prop_map(|guard| Op::Fork { guard }),
        2 => (index.clone(), 1..32i32).prop_map(|(handle, signal)| Op::Trigger { handle, signal }),
        1 => (index.clone(), 0..8usize).prop_map(|(handle, to)| Op::Advance { handle, to }),
        1 => index.clone().prop_map(|handle| Op::Close { handle }),
        1 => index.clone().prop_map(|handle| Op::Force { handle }),
        2 => index.clone().prop_map(|handle| Op::CloneHandle { handle }),
        1 => index.clone().prop_map(|handle| Op::DropHandle { handle }),
        1 => index.clone().prop_map(|handle| Op::Child { handle }),
        2 => (index.clone(), 0..10usize).prop_map(|(handle, kind)| Op::Wait { handle, kind }),
        1 => (index.clone(), any::<bool>())
            .prop_map(|(waiter, new_waker)| Op::PollWaiter { waiter, new_waker }),
        1 => index.prop_map(|waiter| Op::DropWaiter { waiter }),
    ]
}

/// The model of one scope.
#[derive(Debug)]
struct Scope {
    parent: Option<usize>,
    phase: Phase,
    triggered: bool,
    reason: Option<Reason>,
    refused: usize,
    guards: usize,
    handles: usize,
    /// Children of this scope that still hold their unit here.
    child_units: usize,
    /// Whether this scope (a child) still holds its unit in its parent.
    holds_parent_unit: bool,
    drained: bool,
    dead: bool,
}

impl Scope {
    fn new(parent: Option<usize>) -> Self {
        Scope {
            parent,
            phase: Phase::Running,
            triggered: false,
            reason: None,
            refused: 0,
            guards: 0,
            handles: 1,
            child_units: 0,
            holds_parent_unit: false,
            drained: false,
            dead: false,
        }
    }

    fn in_flight(&self) -> usize {
        self.guards + self.child_units
    }
}

/// The sequential model of a tree of scopes.
#[derive(Debug, Default)]
struct Model {
    scopes: Vec<Scope>,
}

impl Model {
    fn allowed(from: Phase, to: Phase) -> bool {
        from != Phase::Running && !matches!(from, Phase::Completed | Phase::Forced) && to > from
    }

    /// The first trigger initiates the scope; a later one changes nothing. Whether it was the
    /// first.
    fn trigger(&mut self, scope: usize, reason: Reason) -> bool {
        let first = !self.scopes[scope].triggered;
        if first {
            self.initiate(scope, reason);
        }
        first
    }

    fn initiate(&mut self, scope: usize, reason: Reason) {
        self.scopes[scope].triggered = true;
        self.scopes[scope].reason = Some(reason);
        self.scopes[scope].phase = Phase::Initiated;
        self.propagate(scope, Phase::Initiated);
    }

    fn advance(&mut self, scope: usize, to: Phase) -> Result<Phase, Phase> {
        let from = self.scopes[scope].phase;
        if !Self::allowed(from, to) {
            return Err(from);
        }
        self.scopes[scope].phase = to;
        self.settle(scope);
        self.propagate(scope, to);
        Ok(from)
    }

    fn close(&mut self, scope: usize) {
        self.trigger(scope, Reason::requested());
        let _ = self.advance(scope, Phase::StoppingNewRequests);
    }

    fn force(&mut self, scope: usize, reason: Reason) {
        self.trigger(scope, reason);
        let _ = self.advance(scope, Phase::Forced);
    }

    fn follow_parent(&mut self, scope: usize, parent_phase: Phase) {
        if parent_phase == Phase::Running {
            return;
        }
        self.trigger(scope, Reason::Parent);
        if parent_phase == Phase::Forced {
            let _ = self.advance(scope, Phase::Forced);
        } else if parent_phase.admissions_closed() {
            let _ = self.advance(scope, Phase::StoppingNewRequests);
        }
    }

    fn propagate(&mut self, scope: usize, to: Phase) {
        let children: Vec<usize> = (0..self.scopes.len())
            .filter(|&c| self.scopes[c].parent == Some(scope) && !self.scopes[c].dead)
            .collect();
        for child in children {
            self.follow_parent(child, to);
        }
    }

    /// Latches the drain and the death; gives back the unit held in the parent on either, and
    /// the parent handle on death.
    fn settle(&mut self, scope: usize) {
        let s = &mut self.scopes[scope];
        if !s.drained && s.phase.admissions_closed() && s.in_flight() == 0 {
            s.drained = true;
        }
        let dies = !s.dead && s.handles == 0 && s.in_flight() == 0;
        if dies {
            s.dead = true;
        }
        let parent = s.parent;
        if (s.drained || s.dead) && s.holds_parent_unit {
            s.holds_parent_unit = false;
            let parent = parent.expect("only children hold a parent unit");
            self.scopes[parent].child_units -= 1;
            self.settle(parent);
        }
        if let (true, Some(parent)) = (dies, parent) {
            self.drop_handle(parent);
        }
    }

    fn enter(&mut self, scope: usize) -> Result<(), Phase> {
        let s = &mut self.scopes[scope];
        if s.phase.admissions_closed() {
            s.refused += 1;
            return Err(s.phase);
        }
        s.guards += 1;
        Ok(())
    }

    fn fork(&mut self, scope: usize) {
        // Whatever the phase: the forked guard is in flight, so the scope cannot be drained.
        self.scopes[scope].guards += 1;
    }

    fn drop_guard(&mut self, scope: usize) {
        self.scopes[scope].guards -= 1;
        self.settle(scope);
    }

    fn drop_handle(&mut self, scope: usize) {
        self.scopes[scope].handles -= 1;
        self.settle(scope);
    }

    fn child(&mut self, parent: usize) -> usize {
        let child = self.scopes.len();
        let mut scope = Scope::new(Some(parent));
        // The child holds a handle to its parent for as long as it lives.
        self.scopes[parent].handles += 1;
        if !self.scopes[parent].phase.admissions_closed() {
            scope.holds_parent_unit = true;
            self.scopes[parent].child_units += 1;
        }
        self.scopes.push(scope);
        let phase = self.scopes[parent].phase;
        self.follow_parent(child, phase);
        self.settle(child);
        child
    }
}

/// Counts the wake-ups of the waker it backs.
#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl WakeCount {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a waiter waits for, in the model's terms.
#[derive(Debug, Clone, Copy)]
enum Awaited {
    Trigger,
    Drain,
    Phase(Phase),
}

impl Awaited {
    fn holds(self, scope: &Scope) -> bool {
        match self {
            Awaited::Trigger => scope.phase != Phase::Running,
            Awaited::Drain => scope.drained,
            Awaited::Phase(phase) => scope.phase >= phase,
        }
    }
}

/// A live waiter future, its latest waker, and the wake count when it last returned `Pending`.
struct Waiter {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    scope: usize,
    awaited: Awaited,
    waker: Arc<WakeCount>,
    wakes_when_parked: usize,
}

impl Waiter {
    /// Polls with the current waker; whether it completed.
    fn poll(&mut self) -> bool {
        let waker = Waker::from(self.waker.clone());
        let ready = self
            .future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        self.wakes_when_parked = self.waker.get();
        ready
    }
}

/// Runs `ops` on the real thing and on the model, comparing every observable after each step.
fn run(ops: Vec<Op>, stripes: usize) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    model.scopes.push(Scope::new(None));
    // Real handles and guards, each with the model scope it belongs to.
    let mut handles: Vec<(Shutdown, usize)> =
        vec![(winddown_core::tuning::with_stripes(stripes).unwrap(), 0)];
    let mut guards: Vec<(Guard, usize)> = Vec::new();
    let mut waiters: Vec<Waiter> = Vec::new();
    // The wakers of cancelled and completed waiters, with their wake counts at that moment: no
    // list may wake them afterwards.
    let mut retired: Vec<(Arc<WakeCount>, usize)> = Vec::new();

    for op in ops {
        match op {
            Op::Enter { handle } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let real = shutdown.enter();
                let expected = model.enter(*scope);
                prop_assert_eq!(real.as_ref().map(|_| ()).map_err(|e| e.phase()), expected);
                if let Ok(guard) = real {
                    guards.push((guard, *scope));
                }
            }
            Op::Fork { guard } if !guards.is_empty() => {
                let (guard, scope) = &guards[guard % guards.len()];
                let (fork, scope) = (guard.fork(), *scope);
                model.fork(scope);
                guards.push((fork, scope));
            }
            Op::DropGuard { guard } if !guards.is_empty() => {
                let (guard, scope) = guards.swap_remove(guard % guards.len());
                drop(guard);
                model.drop_guard(scope);
            }
            Op::Trigger { handle, signal } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let first = shutdown.trigger(Reason::Signal(signal));
                prop_assert_eq!(first, model.trigger(*scope, Reason::Signal(signal)));
            }
            Op::Advance { handle, to } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let to = Phase::ALL[to];
                let real = shutdown.advance(to).map_err(|e| e.from());
                prop_assert_eq!(real, model.advance(*scope, to));
            }
            Op::Close { handle } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                shutdown.close();
                model.close(*scope);
            }
            Op::Force { handle } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                shutdown.force(Reason::Deadline);
                model.force(*scope, Reason::Deadline);
            }
            Op::CloneHandle { handle } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let clone = (shutdown.clone(), *scope);
                model.scopes[clone.1].handles += 1;
                handles.push(clone);
            }
            Op::DropHandle { handle } if !handles.is_empty() => {
                let (shutdown, scope) = handles.swap_remove(handle % handles.len());
                drop(shutdown);
                model.drop_handle(scope);
            }
            Op::Child { handle } if !handles.is_empty() && model.scopes.len() < 8 => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let child = shutdown.child();
                let child_scope = model.child(*scope);
                handles.push((child, child_scope));
            }
            Op::Wait { handle, kind } if !handles.is_empty() => {
                let (shutdown, scope) = &handles[handle % handles.len()];
                let (future, awaited): (Pin<Box<dyn Future<Output = ()> + Send>>, _) = match kind {
                    0 => (Box::pin(shutdown.triggered()), Awaited::Trigger),
                    1 => (Box::pin(shutdown.drained()), Awaited::Drain),
                    _ => {
                        let phase = Phase::ALL[(kind - 2) % Phase::ALL.len()];
                        let future = shutdown.reached(phase);
                        (
                            Box::pin(async move {
                                future.await;
                            }),
                            Awaited::Phase(phase),
                        )
                    }
                };
                // The owned futures hold a handle clone.
                model.scopes[*scope].handles += 1;
                let mut waiter = Waiter {
                    future,
                    scope: *scope,
                    awaited,
                    waker: Arc::default(),
                    wakes_when_parked: 0,
                };
                let expected = awaited.holds(&model.scopes[*scope]);
                prop_assert_eq!(waiter.poll(), expected, "first poll of {:?}", awaited);
                if expected {
                    retired.push((waiter.waker.clone(), waiter.waker.get()));
                    drop(waiter);
                    model.drop_handle(*scope);
                } else {
                    waiters.push(waiter);
                }
            }
            Op::PollWaiter { waiter, new_waker } if !waiters.is_empty() => {
                let index = waiter % waiters.len();
                let waiter = &mut waiters[index];
                if new_waker {
                    let old = std::mem::take(&mut waiter.waker);
                    retired.push((old.clone(), old.get()));
                }
                let expected = waiter.awaited.holds(&model.scopes[waiter.scope]);
                prop_assert_eq!(waiter.poll(), expected, "poll of {:?}", waiter.awaited);
                if expected {
                    let waiter = waiters.swap_remove(index);
                    retired.push((waiter.waker.clone(), waiter.waker.get()));
                    let scope = waiter.scope;
                    drop(waiter);
                    model.drop_handle(scope);
                }
            }
            Op::DropWaiter { waiter } if !waiters.is_empty() => {
                let waiter = waiters.swap_remove(waiter % waiters.len());
                retired.push((waiter.waker.clone(), waiter.waker.get()));
                let scope = waiter.scope;
                drop(waiter);
                model.drop_handle(scope);
            }
            _ => continue,
        }
        // No lost wake-up: a parked waiter whose condition now holds has been woken since it
        // parked. No stray one: a cancelled or finished waiter's waker is not woken again.
        for waiter in &waiters {
            if waiter.awaited.holds(&model.scopes[waiter.scope]) {
                prop_assert!(
                    waiter.waker.get() > waiter.wakes_when_parked,
                    "{:?} on scope {} holds but its waiter was not woken",
                    waiter.awaited,
                    waiter.scope
                );
            }
        }
        for (waker, wakes) in &retired {
            prop_assert_eq!(waker.get(), *wakes, "a retired waker was woken");
        }
        for (shutdown, scope) in &handles {
            let s = &model.scopes[*scope];
            prop_assert_eq!(shutdown.phase(), s.phase, "phase of scope {}", scope);
            prop_assert_eq!(
                shutdown.in_flight(),
                s.in_flight(),
                "in flight of scope {}",
                scope
            );
            prop_assert_eq!(
                shutdown.is_drained(),
                s.drained,
                "drained of scope {}",
                scope
            );
            prop_assert_eq!(
                shutdown.is_triggered(),
                s.triggered,
                "triggered of scope {}",
                scope
            );
            prop_assert_eq!(
                shutdown.reason(),
                s.reason.as_ref(),
                "reason of scope {}",
                scope
            );
            prop_assert_eq!(shutdown.refused(), s.refused, "refused of scope {}", scope);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn matches_the_sequential_model_with_one_stripe(ops in prop::collection::vec(op(), 0..48)) {
        run(ops, 1)?;
    }

    #[test]
    fn matches_the_sequential_model_with_three_stripes(ops in prop::collection::vec(op(), 0..48)) {
        run(ops, 3)?;
    }
}
