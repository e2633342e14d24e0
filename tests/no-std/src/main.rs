//! The no_std probe: a `#![no_std]` binary with its own panic handler and
//! global allocator that uses `winddown-core` with `default-features = false`.
//!
//! If anything in the dependency tree links `std`, the host `cargo check`
//! fails with "found duplicate lang item `panic_impl`", because `std` brings
//! its own panic handler. The thumbv7em build proves the same on a target
//! that has no `std` at all.
#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::panic::PanicInfo;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
#[cfg(feature = "use-core")]
use core::{
    future::Future,
    pin::pin,
    task::{Context, Waker},
};

#[cfg(feature = "use-core")]
use winddown_core::{Reason, Shutdown};

// ===== allocator =====

const HEAP_SIZE: usize = 64 * 1024;

/// A bump allocator over a static array: it never frees, which is fine for
/// a probe that allocates a handful of times.
struct Bump {
    heap: UnsafeCell<[u8; HEAP_SIZE]>,
    next: AtomicUsize,
}

// SAFETY: `alloc` hands out disjoint ranges of `heap`, claimed with an atomic
// compare-exchange on `next`, so sharing `Bump` between threads is sound.
unsafe impl Sync for Bump {}

// SAFETY: every returned block lies inside `heap`, is aligned to
// `layout.align()`, is `layout.size()` bytes long, and is never handed out
// twice (`next` only grows). Out of memory returns null, as the trait asks.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.heap.get() as usize;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let start = match (base + next).checked_next_multiple_of(layout.align()) {
                Some(addr) => addr - base,
                None => return ptr::null_mut(),
            };
            let end = match start.checked_add(layout.size()) {
                Some(end) if end <= HEAP_SIZE => end,
                _ => return ptr::null_mut(),
            };
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                // SAFETY: `start + size <= HEAP_SIZE`, so the pointer stays
                // inside `heap`.
                Ok(_) => return unsafe { self.heap.get().cast::<u8>().add(start) },
                Err(seen) => next = seen,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump {
    heap: UnsafeCell::new([0; HEAP_SIZE]),
    next: AtomicUsize::new(0),
};

// ===== panic handler =====

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

// ===== entry point =====

/// Uses the core the way a firmware main loop would.
#[cfg(feature = "use-core")]
fn run() -> usize {
    let shutdown = Shutdown::new();
    let guard = shutdown.enter().ok();
    let admitted = shutdown.in_flight();
    // A task waiting for the drain, polled by hand as an executor would: it parks in the
    // core's waiter list, and is woken by the last guard's drop after the close.
    let mut cx = Context::from_waker(Waker::noop());
    let mut drained = pin!(shutdown.drained());
    let parked = drained.as_mut().poll(&mut cx).is_pending();
    let _ = shutdown.trigger(Reason::requested());
    shutdown.close();
    drop(guard);
    let woken = drained.as_mut().poll(&mut cx).is_ready();
    let refused = shutdown.enter().is_err();
    admitted + usize::from(parked) + usize::from(woken) + usize::from(refused)
}

/// Without the core (`--no-default-features`, for the footprint report): the same shape, a
/// value the optimiser cannot know, so that only the core's code is missing.
#[cfg(not(feature = "use-core"))]
fn run() -> usize {
    let heap = core::hint::black_box(ALLOCATOR.next.load(Ordering::Relaxed));
    heap + 1
}

/// The entry point. On a bare-metal target, build.rs makes it the ELF entry
/// so the linker keeps it and everything it calls; on the host the probe is
/// only checked, never linked.
#[no_mangle]
pub extern "C" fn main() -> i32 {
    // The result goes out as the exit code so the optimiser keeps the calls.
    run() as i32
}
