//! How the layer's response body hands its request's admission over to the server that
//! writes it.
//!
//! The layer alone sees its body's frames go to the server, not the bytes go to the socket:
//! its guard leaves when the last frame has been handed over. [`Server`](crate::Server)
//! knows more: it polls (and drops) the layer's body inside [`collect`], and a body that
//! ends in there gives its admission (guard and request record) to the server instead of
//! dropping it; the server keeps it until the response's bytes are written. Thread-local,
//! because the two meet only inside that one call on one thread: no allocation, no lock, and
//! nothing to configure.

use std::cell::{Cell, RefCell};

use super::body::Admission;

thread_local! {
    /// Set while a server polls or drops a body of the layer.
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
    /// Set when a body handed its admission over (in `HANDED`): the one word the server reads
    /// after every poll, without touching `HANDED` (whose destructor makes each access cost
    /// more) unless something is there.
    static WAITING: Cell<bool> = const { Cell::new(false) };
    /// The admission a body handed over during that call.
    static HANDED: RefCell<Option<Admission>> = const { RefCell::new(None) };
}

/// Runs `f` (a poll or a drop of a response body that may be the layer's) and returns, with
/// its output, the admission the layer's body handed over while it ran.
#[cfg(feature = "hyper")]
pub(crate) fn collect<T>(f: impl FnOnce() -> T) -> (T, Option<Admission>) {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            COLLECTING.with(|collecting| collecting.set(self.0));
        }
    }
    let restore = Restore(COLLECTING.with(|collecting| collecting.replace(true)));
    let out = f();
    drop(restore);
    let handed = if WAITING.with(|waiting| waiting.replace(false)) {
        HANDED.with(|handed| handed.borrow_mut().take())
    } else {
        None
    };
    (out, handed)
}

/// The layer's body is done with `admission`: hands it to the server collecting, or lets it
/// go now.
pub(crate) fn release(admission: Admission) {
    if COLLECTING.with(Cell::get) {
        // A second body of the layer in the same call (two layers stacked) hands over too;
        // the first one's admission is released then, one response's worth early.
        let earlier = HANDED.with(|handed| handed.borrow_mut().replace(admission));
        WAITING.with(|waiting| waiting.set(true));
        drop(earlier);
    } else {
        drop(admission);
    }
}
