//! Entering and leaving allocate nothing, and guards and handles are one word.
//!
//! A counting global allocator counts allocations made on this thread only (a thread-local
//! switch), so the test harness's own threads do not disturb the count.
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;

use winddown_core::{Guard, Reason, Shutdown};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; it only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|on| {
            if on.get() {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
            }
        });
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made on this thread while running `f`.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
#[cfg(not(feature = "track"))]
fn guard_and_handle_are_one_word() {
    assert_eq!(size_of::<Guard>(), size_of::<usize>());
    assert_eq!(size_of::<Shutdown>(), size_of::<usize>());
    assert_eq!(size_of::<Option<Guard>>(), size_of::<usize>());
}

/// With the leak finder the guard also holds its slot in the registry of call sites.
#[test]
#[cfg(feature = "track")]
fn guard_is_two_words_with_track() {
    assert_eq!(size_of::<Guard>(), 2 * size_of::<usize>());
    assert_eq!(size_of::<Shutdown>(), size_of::<usize>());
    assert_eq!(size_of::<Option<Guard>>(), 2 * size_of::<usize>());
}

#[test]
fn enter_and_leave_allocate_nothing() {
    let shutdown = Shutdown::new();
    let clone = shutdown.clone();
    if cfg!(feature = "track") {
        // The leak finder's registry of each stripe grows to the most guards live at once and
        // keeps that capacity: after the first guard of each stripe, nothing allocates.
        drop((shutdown.enter().unwrap(), clone.enter().unwrap()));
    }
    let count = allocations(|| {
        for _ in 0..1000 {
            let guard = shutdown.enter().unwrap();
            let other = clone.enter().unwrap();
            drop(guard);
            drop(other);
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn a_refused_admission_allocates_nothing() {
    let shutdown = Shutdown::new();
    shutdown.trigger(Reason::requested());
    shutdown.close();
    let count = allocations(|| {
        for _ in 0..100 {
            assert!(shutdown.enter().is_err());
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn the_counting_allocator_sees_allocations() {
    // The check above could pass vacuously if the allocator never counted; this is its control.
    let count = allocations(|| drop(std::hint::black_box(Box::new(7u64))));
    assert_eq!(count, 1);
}
