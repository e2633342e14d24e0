//! The one place this crate takes its synchronization primitives from.
//!
//! Under `cfg(loom)` every atomic and cell comes from [loom], so the model checker sees every
//! access; otherwise they come from `core`. Nothing else in the crate names
//! `core::sync::atomic` directly, but for the spin lock in `raw/lock.rs`, which is never
//! compiled under loom. The lock itself ([`Lock`](crate::raw::Lock)) is in `raw/`, with the
//! crate's other `unsafe` code; it switches to loom's mutex the same way.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// An Acquire fence, placed after an RMW on `atomic` that read from (or followed, in a release
/// sequence) another thread's Release RMW on it: what that thread did before its Release
/// happens before what this thread does after the fence.
///
/// ThreadSanitizer does not model fences, and would report every access ordered only by one as
/// a data race. Under it (`cfg(winddown_sanitize_thread)`, set by `build.rs`) this is an Acquire
/// load of `atomic` instead, as the standard library's `Arc` does (its `acquire!` macro). The
/// two synchronize with the same Release operations: every write to the atomics passed here
/// is an RMW, so the load, which comes after our RMW in program order, reads our RMW's value or
/// a later one of the same unbroken chain of RMWs, that is, a value in the release sequence of
/// every Release the fence would have paired with. The load costs more than the fence on some
/// targets, which is why it is not used everywhere.
#[inline]
pub(crate) fn acquire_fence(atomic: &AtomicUsize) {
    #[cfg(not(winddown_sanitize_thread))]
    {
        let _ = atomic;
        #[cfg(not(loom))]
        core::sync::atomic::fence(Ordering::Acquire);
        #[cfg(loom)]
        loom::sync::atomic::fence(Ordering::Acquire);
    }
    #[cfg(winddown_sanitize_thread)]
    {
        // memory ordering: Acquire, standing for the fence; see above.
        atomic.load(Ordering::Acquire);
    }
}

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

pub(crate) use cell::UnsafeCell;

/// An `UnsafeCell` with loom's closure-based API, so the same code checks under both.
#[cfg(not(loom))]
mod cell {
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

/// Aborts the process. `core` has no `abort`, so panic while panicking, which aborts on every
/// target, with or without `std` (the same trick as async-lock's `abort`).
#[cold]
pub(crate) fn abort() -> ! {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("winddown: aborting: guard or handle count overflow");
        }
    }
    let _bomb = Bomb;
    panic!("winddown: aborting: guard or handle count overflow");
}
