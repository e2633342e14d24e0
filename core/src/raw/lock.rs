//! The core's lock: one type, `Lock`, with a variant per build (std's mutex, loom's, a spin
//! lock, a critical section).
//!
//! A mutual-exclusion lock for the short critical sections of the core: a scope's children
//! (registering, unregistering, propagating a phase), a scope's waiter lists (parking, cancelling,
//! detaching for a wake-up), a plan's entries, and, with `track`, each stripe's registry of guard
//! call sites (so with that feature a guard takes one to enter and to leave).
//!
//! With `std` it is `std::sync::Mutex` (poisoning ignored: the data stays consistent because no
//! code that can panic runs while it is held). Without `std` it is a spin lock, which is
//! acceptable because it is never taken on the admission hot path (but with `track`, see above)
//! and every critical section is a
//! handful of instructions plus one `Vec` push, `take` or `swap_remove`; on a preemptive
//! single-core system a low-priority holder can still delay a high-priority spinner, and an
//! interrupt handler that waits on a scope could spin forever on a lock its own core holds. The
//! `critical-section` feature replaces the spin lock with a critical section
//! ([`critical_section::acquire`]) for such targets.
//!
//! Rule for every caller: never hold two of these locks at once, and never run code that may
//! take one (dropping a `Waker`, user callbacks) while holding one. The critical-section
//! variant relies on the first half (its sections must nest properly), and the second half is
//! what keeps a waker whose drop drops a waiting future from deadlocking on its own list. One
//! piece of foreign code does run under a lock: cloning a waker when a waiter parks (a
//! reference count increment for every executor's waker). Under the critical-section variant a
//! re-entry from the same context would not deadlock but alias the value, so that variant
//! checks for it and panics instead.

/// `Deref` and `DerefMut` from a hand-made `LockGuard { lock: &Lock { value: UnsafeCell } }`
/// to the value: the part the spin lock and the critical-section lock share.
#[cfg(any(test, all(not(feature = "std"), not(loom))))]
macro_rules! deref_to_value {
    () => {
        impl<T> core::ops::Deref for LockGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                // SAFETY: a guard exists only while it holds its lock (the spin lock's flag
                // or the critical section it opened), so no other reference to `value`
                // exists.
                unsafe { &*self.lock.value.get() }
            }
        }

        impl<T> core::ops::DerefMut for LockGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: as in `deref`; `&mut self` makes this the only access through
                // the guard.
                unsafe { &mut *self.lock.value.get() }
            }
        }
    };
}
#[cfg(any(test, all(not(feature = "std"), not(loom))))]
use deref_to_value;

#[cfg(all(feature = "std", not(loom)))]
mod std_mutex {
    extern crate std;

    #[derive(Debug, Default)]
    pub(crate) struct Lock<T>(std::sync::Mutex<T>);

    pub(crate) type LockGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Whether some thread holds the lock (for tests of the rule in `Lock`'s docs).
        #[cfg(test)]
        pub(crate) fn is_locked(&self) -> bool {
            matches!(self.0.try_lock(), Err(std::sync::TryLockError::WouldBlock))
        }
    }
}

#[cfg(loom)]
mod loom_mutex {
    #[derive(Debug, Default)]
    pub(crate) struct Lock<T>(loom::sync::Mutex<T>);

    pub(crate) type LockGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

/// Compiled for the crate's own tests too, which run it on the host.
#[cfg(any(
    test,
    all(not(feature = "std"), not(feature = "critical-section"), not(loom))
))]
mod spin {
    use core::cell::UnsafeCell;
    use core::marker::PhantomData;
    use core::sync::atomic::{AtomicBool, Ordering};

    #[derive(Debug, Default)]
    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the lock hands out access to `value` to one thread at a time (the `locked`
    // flag), so sharing it is as safe as sending `T`, exactly like `std::sync::Mutex`.
    unsafe impl<T: Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // memory ordering: Acquire on success pairs with the Release store in
            // `LockGuard::drop`, so the previous holder's writes to `value` are visible.
            while self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                // memory ordering: Relaxed: a hint for when to retry; the CAS above
                // re-checks with Acquire.
                while self.locked.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            }
            LockGuard {
                lock: self,
                _not_send: PhantomData,
            }
        }
    }

    /// `!Send` and `!Sync`, like a held `std::sync::MutexGuard` (which is `!Send`).
    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
        _not_send: PhantomData<*const ()>,
    }

    super::deref_to_value!();

    impl<T> Drop for LockGuard<'_, T> {
        fn drop(&mut self) {
            // memory ordering: Release publishes our writes to `value` to the next `lock`.
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}

/// Compiled for the crate's own tests too (the `critical-section` dev-dependency brings
/// std's implementation), which run it on the host.
#[cfg(any(
    test,
    all(not(feature = "std"), feature = "critical-section", not(loom))
))]
mod critical {
    use core::cell::{Cell, UnsafeCell};
    use core::marker::PhantomData;

    use critical_section::RestoreState;

    #[derive(Debug, Default)]
    pub(crate) struct Lock<T> {
        /// Whether a guard of this lock exists. Read and written only inside a critical
        /// section. Critical sections nest, so without it a re-entry from the context that
        /// holds the lock would get a second guard and alias `value`.
        held: Cell<bool>,
        value: UnsafeCell<T>,
    }

    // SAFETY: a guard exists only inside a critical section, which admits one execution
    // context of the whole system at a time, and only while `held` says it is the only one
    // (checked inside that section), so `value` and `held` are accessed by one context at a
    // time: sharing the lock is as safe as sending `T`.
    unsafe impl<T: Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self {
                held: Cell::new(false),
                value: UnsafeCell::new(value),
            }
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            // SAFETY: released exactly once, by this guard's `drop` or just below, on this
            // thread (the guard is `!Send`); sections nest properly because no caller holds
            // two locks at once (the rule in the type's docs) and guards are scoped values.
            let restore = unsafe { critical_section::acquire() };
            if self.held.replace(true) {
                // SAFETY: the section opened above, released once, before the panic.
                unsafe { critical_section::release(restore) };
                panic!("winddown: a lock of the core was re-entered while held");
            }
            LockGuard {
                lock: self,
                restore,
                _not_send: PhantomData,
            }
        }
    }

    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
        restore: RestoreState,
        _not_send: PhantomData<*const ()>,
    }

    super::deref_to_value!();

    impl<T> Drop for LockGuard<'_, T> {
        fn drop(&mut self) {
            self.lock.held.set(false);
            // SAFETY: `restore` came from the `acquire` in `lock`, on this thread, and this is
            // its one release (see `lock` for the nesting).
            unsafe { critical_section::release(self.restore) };
        }
    }
}

#[cfg(all(not(feature = "std"), feature = "critical-section", not(loom)))]
pub(crate) use critical::Lock;
#[cfg(loom)]
pub(crate) use loom_mutex::Lock;
#[cfg(all(not(feature = "std"), not(feature = "critical-section"), not(loom)))]
pub(crate) use spin::Lock;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std_mutex::Lock;

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;

    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::panic::AssertUnwindSafe;
    use std::panic;
    use std::thread;

    const ROUNDS: usize = if cfg!(miri) { 50 } else { 20_000 };

    /// Two threads add under the lock with a read and a separate write: a lost update means
    /// two guards existed at once.
    macro_rules! excludes {
        ($lock:ty) => {{
            let lock = Arc::new(<$lock>::new(0_usize));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    thread::spawn(move || {
                        for _ in 0..ROUNDS {
                            let mut value = lock.lock();
                            let seen = *value;
                            core::hint::black_box(&mut *value);
                            *value = seen + 1;
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
            assert_eq!(*lock.lock(), 2 * ROUNDS);
        }};
    }

    #[test]
    fn the_spin_lock_excludes() {
        excludes!(super::spin::Lock<usize>);
    }

    #[test]
    fn the_critical_section_lock_excludes() {
        excludes!(super::critical::Lock<usize>);
    }

    #[test]
    fn the_critical_section_lock_refuses_a_reentry() {
        let lock = super::critical::Lock::new(1_u8);
        let held = lock.lock();
        // Critical sections nest: without the check this would be a second guard.
        let reentry = panic::catch_unwind(AssertUnwindSafe(|| drop(lock.lock())));
        assert!(reentry.is_err());
        assert_eq!(*held, 1);
        drop(held);
        // Released properly on the way out of the refused attempt: usable again.
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
    }
}
