//! [`Exclusive`]: a cell that is `Sync` because it gives no shared access.

/// Holds a value that is only ever reached through `&mut` or by value, which makes it `Sync`
/// whatever the value is: no two threads can share a reference to it. The same reasoning as
/// the standard library's unstable `Exclusive`.
///
/// It lets `Resource` (and the `Refused` error that hands one back) be
/// `Sync`, so `?` can turn them into `Box<dyn Error + Send + Sync>`, without asking every
/// closer to be `Sync`.
pub(crate) struct Exclusive<T>(T);

// SAFETY: `Exclusive` gives no access to its value through `&self` (it has no method taking
// `&self`), so a shared reference to it on another thread can reach nothing; a `T: Send` may
// then be shared freely.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Exclusive(value)
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
    }
}
