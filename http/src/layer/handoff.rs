//! How the layer hands its request's admission over to the server that writes the response.
//!
//! The layer alone sees its body's frames go to the server, not the bytes go to the socket:
//! its guard leaves when the last frame has been handed over. [`Server`](crate::Server)
//! knows more, and keeps the admission until the response's bytes are written. The two meet
//! only inside the server's own calls, on one thread: the server polls the service's future,
//! and polls and drops the response body, inside a [`Collecting`]; an admission the layer lets go
//! of in there (its response future completing, or, when that future ran elsewhere, its body
//! ending) goes to the server instead of being dropped. Thread-local: no allocation, no lock,
//! nothing to configure.
//!
//! Behind the server, the admission goes over as the layer's response future completes, and
//! the response's body carries none: the server keeps it from then until the bytes are out,
//! and polls the body without asking this module anything more. Only a future that completed
//! outside the server's poll (a service that runs its inner futures on a task of its own, as
//! tower's `Buffer` does) leaves its admission in the body, which hands it over at its end.

use std::cell::Cell;

use super::body::Admission;

thread_local! {
    /// [`COLLECTING`] while a server polls a service future or polls or drops a response body
    /// (an admission let go of then goes to it), and [`WAITING`] once an admission was handed
    /// over (in `HANDED`): the one word the server touches around every call, without touching
    /// `HANDED` (whose destructor makes each access cost more) unless something is there.
    static STATE: Cell<u8> = const { Cell::new(0) };
    /// The admission handed over during that call.
    static HANDED: Cell<Option<Admission>> = const { Cell::new(None) };
}

const COLLECTING: u8 = 1;
const WAITING: u8 = 2;

/// A server collecting: from [`start`](Self::start) (before a poll of a service's future, or
/// a poll or drop of a response body, that may be the layer's) to
/// [`finish`](Self::finish), which returns the admission the layer handed over meanwhile.
#[cfg(feature = "hyper")]
pub(crate) struct Collecting {
    /// The state before (a call nested in another's finds the outer one's): restored at the
    /// end.
    outer: u8,
    finished: bool,
}

#[cfg(feature = "hyper")]
impl Collecting {
    #[inline]
    pub(crate) fn start() -> Self {
        Collecting {
            outer: STATE.with(|state| state.replace(COLLECTING)),
            finished: false,
        }
    }

    /// The admission handed over since [`start`](Self::start), if any.
    #[inline]
    pub(crate) fn finish(mut self) -> Option<Admission> {
        self.finished = true;
        let state = STATE.with(|state| state.replace(self.outer));
        if state & WAITING != 0 {
            HANDED.with(Cell::take)
        } else {
            None
        }
    }
}

#[cfg(feature = "hyper")]
impl Drop for Collecting {
    fn drop(&mut self) {
        if !self.finished {
            // Unwinding from the call: what it handed over goes now.
            if STATE.with(|state| state.replace(self.outer)) & WAITING != 0 {
                drop(HANDED.with(Cell::take));
            }
        }
    }
}

/// Whether a server is collecting now (see [`Collecting`]).
#[inline]
pub(crate) fn collecting() -> bool {
    STATE.with(Cell::get) & COLLECTING != 0
}

/// The layer is done with `admission`: hands it to the server collecting, or lets it go now.
pub(crate) fn release(admission: Admission) {
    if collecting() {
        hand(admission);
    } else {
        drop(admission);
    }
}

/// Hands `admission` to the server collecting (see [`collecting`]).
pub(crate) fn hand(mut admission: Admission) {
    // Two layers stacked hand two admissions over in the same call: they travel together.
    if let Some(earlier) = HANDED.with(Cell::take) {
        admission.carry(earlier);
    }
    HANDED.with(|handed| handed.set(Some(admission)));
    STATE.with(|state| state.set(state.get() | WAITING));
}
