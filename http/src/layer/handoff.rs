//! How the layer hands its request's admission over to the server that writes the response.
//!
//! The layer alone sees its body's frames go to the server, not the bytes go to the socket:
//! its guard leaves when the last frame has been handed over. [`Server`](crate::Server)
//! knows more, and keeps the admission until the response's bytes are written. The two meet
//! only inside the server's own calls, on one thread: the server calls the service and polls
//! its future, and polls and drops the response body, inside [`collect`], which lends the
//! layer the request's slot for an admission; an admission the layer lets go of in there (as
//! it is called, at its response future's first poll when it was called elsewhere, or, when
//! that future ran elsewhere, as its body ends) goes into that slot instead of being dropped.
//! Thread-local: no allocation, no lock, nothing to configure.
//!
//! Behind the server, the admission goes over as the server calls the layer (the call and the
//! first poll of its future are one collecting scope, in one poll of the server's: the
//! admission is made in the slot, and the response future never holds it), and the response's
//! body carries none: the server keeps it from then until the bytes are out, says
//! `Connection: close` for the layer when the answer comes after admissions closed
//! ([`answered`]), and polls the body without asking this module anything more. The layer's
//! future then only polls the inner one: its response is left where the inner future puts it. A
//! layer called outside the server's scope (by a service around it that calls it elsewhere)
//! hands its admission over at its future's first poll inside the scope. Only a future polled
//! outside the server's poll (a service that runs its inner futures on a task of its own, as
//! tower's `Buffer` does) keeps its admission, and leaves it in the body, which hands it over
//! at its end.
//!
//! The thread-local is one pointer to the slot (null when no server collects): the server's
//! side is one read and one write of it around the call, the layer's one read. The admission
//! is made in the slot (or, handed over at the first poll, moves once, into it).

use std::cell::Cell;
use std::ptr;

use winddown_core::Guard;

use super::body::Admission;
use crate::in_flight::Entry;

thread_local! {
    /// The slot of the server collecting on this thread (see [`collect`]), null when none is:
    /// a plain pointer (no destructor), so each access is a load of the thread's block.
    static SLOT: Cell<*mut Option<Admission>> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `call` (the server's poll of a service's future, or its poll or drop of a response
/// body, that may be the layer's) with `slot` lent to the layer: an admission the layer lets
/// go of meanwhile goes into it (beside the one already there, if any: two layers stacked, or
/// a response's future and then its body).
#[cfg(feature = "hyper")]
#[inline]
pub(crate) fn collect<R>(slot: &mut Option<Admission>, call: impl FnOnce() -> R) -> R {
    /// Puts the outer server's slot (a call nested in another's finds it) back, also when
    /// `call` unwinds.
    struct Restore(*mut Option<Admission>);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            SLOT.with(|current| current.set(self.0));
        }
    }
    let _restore = Restore(SLOT.with(|current| current.replace(slot)));
    call()
}

/// The server collecting on this thread, if one is: its slot.
#[inline]
#[allow(unsafe_code)]
fn slot<'a>() -> Option<&'a mut Option<Admission>> {
    let slot = SLOT.with(Cell::get);
    if slot.is_null() {
        return None;
    }
    // SAFETY: `SLOT` is non-null only inside `collect` (set there, put back by `Restore` when
    // `call` returns or unwinds), and then points to the `slot` it borrows mutably for the
    // whole of `call`: valid, and nothing else reaches it meanwhile (the borrow stops the
    // server; this thread is inside `call`, and a nested `collect` replaces the pointer with
    // its own slot's until it returns). Its callers below end this reference before they
    // return, and call nothing meanwhile that could come back here (`Admission::new` only
    // builds one, `carry` only moves one into a box).
    Some(unsafe { &mut *slot })
}

/// Keeps `admission` in `slot`, beside the one already there, if any.
#[inline]
fn keep(slot: &mut Option<Admission>, admission: Admission) {
    match slot {
        Some(held) => held.carry(admission),
        None => *slot = Some(admission),
    }
}

/// Hands `admission` to the server collecting on this thread, if one is (`Ok`); gives it
/// back otherwise.
#[inline]
pub(crate) fn hand(admission: Admission) -> Result<(), Admission> {
    match slot() {
        Some(slot) => {
            keep(slot, admission);
            Ok(())
        }
        None => Err(admission),
    }
}

/// Hands the admission of `guard` and `entry` to the server collecting on this thread, if one
/// is (the layer is called inside the server's scope); keeps it in `pending` otherwise (empty
/// until then). Made where it goes.
#[inline]
pub(crate) fn hand_or_keep(guard: Guard, entry: Option<Entry>, pending: &mut Option<Admission>) {
    match slot() {
        Some(slot @ None) => *slot = Some(Admission::new(guard, entry)),
        Some(slot) => keep(slot, Admission::new(guard, entry)),
        None => *pending = Some(Admission::new(guard, entry)),
    }
}

/// Moves what `admission` holds to the server collecting on this thread, if one is; leaves
/// it otherwise. Moved once, from where it lies into the server's slot.
#[inline]
pub(crate) fn hand_over(admission: &mut Option<Admission>) {
    let Some(slot) = slot() else { return };
    if slot.is_none() {
        *slot = admission.take();
    } else if let Some(admission) = admission.take() {
        keep(slot, admission);
    }
}

/// Moves what `admission` holds (a layer called outside the server's scope) to the server
/// collecting on this thread at the response future's first poll, if one collects (see the
/// module's docs): from then on the server keeps it, and the future's polls are the inner
/// future's.
#[inline]
pub(crate) fn hand_over_early(admission: &mut Option<Admission>) {
    if admission.is_some() {
        hand_over(admission);
    }
}

/// The answer to a request whose admission `held` holds (the layer's own, or the server's
/// slot it was handed into) says `Connection: close` on HTTP/1 once admissions have closed,
/// so the client does not reuse a connection that is about to go. Checked as the answer
/// leaves the layer (no server holds the admission) or reaches the server (it holds it).
#[inline]
pub(crate) fn answered<B>(response: &mut http::Response<B>, held: &Option<Admission>, http1: bool) {
    if http1 && held.as_ref().is_some_and(Admission::is_closing) {
        say_close(response);
    }
}

/// `Connection: close`, out of the way of the answers that do not say it.
#[cold]
#[inline(never)]
fn say_close<B>(response: &mut http::Response<B>) {
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}

/// The layer is done with `admission`: hands it to the server collecting, or lets it go now.
#[inline]
pub(crate) fn release(admission: Admission) {
    if let Err(admission) = hand(admission) {
        drop(admission);
    }
}
