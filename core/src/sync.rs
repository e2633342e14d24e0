//! The one place this crate takes its synchronization primitives from.
//!
//! Under `cfg(loom)` every atomic, cell and lock comes from [loom], so the model checker sees
//! every access; otherwise they come from `core` (and, for the lock, from `std` when that
//! feature is on). Nothing else in the crate names `core::sync::atomic` directly.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;
#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

pub(crate) use cell::UnsafeCell;
pub(crate) use lock::Lock;

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

/// A mutual-exclusion lock for the rare, short critical sections of scopes (registering a child,
/// unregistering it, propagating a phase to the children).
///
/// With `std` it is `std::sync::Mutex` (poisoning ignored: the data stays consistent because no
/// code that can panic runs while it is held). Without `std` it is a spin lock, which is
/// acceptable because it is never taken on the admission hot path and every critical section is a
/// handful of instructions plus one `Vec` push or `swap_remove`; on a preemptive single-core
/// system a low-priority holder can still delay a high-priority spinner, which the crate docs
/// list under limitations.
mod lock {
    #[cfg(all(feature = "std", not(loom)))]
    mod imp {
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
        }
    }

    #[cfg(loom)]
    mod imp {
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

    #[cfg(all(not(feature = "std"), not(loom)))]
    mod imp {
        use core::cell::UnsafeCell;
        use core::ops::{Deref, DerefMut};
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
                    while self.locked.load(Ordering::Relaxed) {
                        core::hint::spin_loop();
                    }
                }
                LockGuard { lock: self }
            }
        }

        pub(crate) struct LockGuard<'a, T> {
            lock: &'a Lock<T>,
        }

        impl<T> Deref for LockGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                // SAFETY: this guard exists only while `locked` is held by us, so no other
                // reference to `value` exists.
                unsafe { &*self.lock.value.get() }
            }
        }

        impl<T> DerefMut for LockGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
                unsafe { &mut *self.lock.value.get() }
            }
        }

        impl<T> Drop for LockGuard<'_, T> {
            fn drop(&mut self) {
                // memory ordering: Release publishes our writes to `value` to the next `lock`.
                self.lock.locked.store(false, Ordering::Release);
            }
        }
    }

    pub(crate) use imp::Lock;
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
