//! The admission engine: a scope's phases, its admissions and drain, its guards, waiters and
//! wait futures, its child scopes, and the leak finder.
//!
//! Built on the raw module's two safe types: a [`Shutdown`](crate::Shutdown) holds a
//! `RawHandle`, a [`Guard`](crate::Guard) a `RawGuard`; neither has `unsafe` code. See
//! `core/ARCHITECTURE.md` for the whole map.

pub(crate) mod error;
pub mod futures;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod global;
pub(crate) mod guard;
pub(crate) mod hooks;
pub(crate) mod phase;
pub(crate) mod reason;
pub(crate) mod scope;
pub(crate) mod shutdown;
pub mod track;
pub mod tuning;
pub(crate) mod waiters;
