//! A waiter list gives its memory back: as its waiters leave (down to the last one that stays
//! parked), once every parked waiter has left, and once it is woken.
//!
//! A counting global allocator keeps the live heap bytes allocated and freed on this thread (a
//! thread-local count, so the harness's other threads do not disturb it). Every waiter here is
//! parked, woken and dropped on the test's own thread, so the count is exact: the bytes the
//! scope's waiter lists hold are the live bytes minus those live before the waiters parked.
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use winddown_core::futures::Triggered;
use winddown_core::{Reason, Shutdown};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn add(bytes: isize, allocations: usize) {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + allocations));
}

// SAFETY: forwards every call to `System` unchanged; it only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize, 1);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize), 0);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize, 1);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live heap bytes allocated on this thread (minus those freed on it).
fn live() -> isize {
    LIVE.with(Cell::get)
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Waiters parked per test: large enough that a list's high-water mark (16 bytes a slot and 8
/// a free-list entry, before this was fixed) dwarfs the slack below.
const WAITERS: usize = if cfg!(miri) { 1_000 } else { 100_000 };

/// What a list may keep when empty: the few slots it keeps so that a waiter parking and leaving
/// in a loop does not allocate each time (`waiters.rs`), with room to spare.
const SLACK: isize = 2048;

/// One waker for every waiter: cloning it counts a reference, and allocates nothing.
fn idle_waker() -> Waker {
    struct Idle;
    impl Wake for Idle {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Idle))
}

/// Polls each future once: each must park.
fn park_all<F: Future + Unpin>(futures: &mut [F], waker: &Waker) {
    let mut cx = Context::from_waker(waker);
    for future in futures {
        assert!(Pin::new(future).poll(&mut cx).is_pending());
    }
}

/// Parks `WAITERS` futures made by `make`, checks the list grew, drops them all (each leaves the
/// list), and checks the list gave its memory back.
fn parked_then_cancelled<F: Future + Unpin>(make: impl Fn() -> F) {
    let waker = idle_waker();
    let mut futures: Vec<F> = (0..WAITERS).map(|_| make()).collect();
    let baseline = live();

    park_all(&mut futures, &waker);
    let parked = live() - baseline;
    assert!(
        parked >= (WAITERS * 16) as isize,
        "{parked} bytes for {WAITERS} parked waiters: the count misses the list"
    );

    // Drop every future in place: the vector's own buffer stays, so only the list's bytes move.
    futures.clear();
    let held = live() - baseline;
    assert!(
        held <= SLACK,
        "{held} bytes still held after {WAITERS} waiters parked ({parked} bytes) and left"
    );
}

#[test]
fn triggered_waiters_that_leave_give_the_memory_back() {
    let shutdown = Shutdown::new();
    parked_then_cancelled(|| shutdown.triggered());
}

#[test]
fn drained_waiters_that_leave_give_the_memory_back() {
    let shutdown = Shutdown::new();
    let _guard = shutdown.enter().unwrap();
    shutdown.close();
    parked_then_cancelled(|| shutdown.drained());
}

#[test]
fn a_list_emptied_in_any_order_gives_the_memory_back() {
    // Leaving from the back, then alternately from both ends: the free list's order must not
    // matter, only that nobody is left.
    let shutdown = Shutdown::new();
    let waker = idle_waker();
    let mut futures: Vec<_> = (0..WAITERS).map(|_| Some(shutdown.triggered())).collect();
    let baseline = live();
    let mut parked: Vec<_> = futures.iter_mut().map(|f| f.as_mut().unwrap()).collect();
    park_all(&mut parked, &waker);
    drop(parked);
    for i in (WAITERS / 2..WAITERS).rev() {
        futures[i] = None;
    }
    for i in 0..WAITERS / 4 {
        futures[i] = None;
        futures[WAITERS / 2 - 1 - i] = None;
    }
    assert!(futures.iter().all(Option::is_none));
    let held = live() - baseline;
    assert!(held <= SLACK, "{held} bytes still held by an empty list");
}

/// Parks one waiter that stays (as `main` awaiting the trigger does), then `WAITERS` more,
/// drops those in the order `order` gives, and checks the list gave their memory back.
fn emptied_around_a_waiter_that_stays(order: impl FnOnce(&mut [Option<Triggered>])) {
    let shutdown = Shutdown::new();
    let waker = idle_waker();
    let mut stays = [shutdown.triggered()];
    park_all(&mut stays, &waker);
    let mut futures: Vec<_> = (0..WAITERS).map(|_| Some(shutdown.triggered())).collect();
    let baseline = live();
    let mut parked: Vec<_> = futures.iter_mut().map(|f| f.as_mut().unwrap()).collect();
    park_all(&mut parked, &waker);
    drop(parked);
    order(&mut futures);
    assert!(futures.iter().all(Option::is_none));
    let held = live() - baseline;
    assert!(
        held <= SLACK,
        "{held} bytes still held by a list with one waiter parked"
    );
    // The one that stayed is still parked, and woken.
    shutdown.trigger(Reason::requested());
    assert!(Pin::new(&mut stays[0])
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
}

#[test]
fn a_waiter_that_stays_does_not_keep_the_high_water_mark_first_in_first_out() {
    emptied_around_a_waiter_that_stays(|futures| futures.iter_mut().for_each(|f| *f = None));
}

#[test]
fn a_waiter_that_stays_does_not_keep_the_high_water_mark_last_in_first_out() {
    emptied_around_a_waiter_that_stays(|futures| {
        futures.iter_mut().rev().for_each(|f| *f = None);
    });
}

#[test]
fn a_waiter_that_stays_does_not_keep_the_high_water_mark_in_a_shuffle() {
    emptied_around_a_waiter_that_stays(|futures| {
        // A fixed permutation (a stride coprime with the length), so the test is repeatable.
        let len = futures.len();
        let stride = (0..)
            .map(|k| len / 3 + k)
            .find(|s| gcd(*s, len) == 1)
            .unwrap();
        for i in 0..len {
            futures[i * stride % len] = None;
        }
    });
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[test]
fn a_woken_list_holds_nothing() {
    // Half the waiters leave (the list's free list grows), half stay until the trigger.
    let shutdown = Shutdown::new();
    let waker = idle_waker();
    let mut futures: Vec<_> = (0..WAITERS).map(|_| Some(shutdown.triggered())).collect();
    let baseline = live();
    let mut parked: Vec<_> = futures.iter_mut().map(|f| f.as_mut().unwrap()).collect();
    park_all(&mut parked, &waker);
    drop(parked);
    for future in futures.iter_mut().step_by(2) {
        *future = None;
    }
    assert!(live() - baseline >= (WAITERS * 16) as isize);

    shutdown.trigger(Reason::requested());
    let held = live() - baseline;
    assert!(held <= SLACK, "{held} bytes still held after the trigger");
    // The woken leave without touching the list (their generation is gone).
    futures.clear();
    let held = live() - baseline;
    assert!(
        held <= SLACK,
        "{held} bytes still held after the woken left"
    );
}

#[test]
fn a_waiter_parking_and_leaving_in_a_loop_allocates_once() {
    // A `select!` loop makes a new `triggered()` each turn and drops it when another branch
    // wins: the list must keep its few slots rather than allocate and free on every turn.
    let shutdown = Shutdown::new();
    let waker = idle_waker();
    let cycle = || {
        let mut future = [shutdown.triggered()];
        park_all(&mut future, &waker);
    };
    cycle();
    let before = allocations();
    for _ in 0..1000 {
        cycle();
    }
    assert_eq!(allocations() - before, 0);
}

#[test]
fn the_counting_allocator_sees_frees() {
    // The checks above could pass vacuously if frees were miscounted; this is their control.
    let before = live();
    let boxed = std::hint::black_box(Box::new([0u8; 100]));
    assert_eq!(live() - before, 100);
    drop(boxed);
    assert_eq!(live() - before, 0);
}
