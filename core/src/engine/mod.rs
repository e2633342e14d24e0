//! The admission engine.

pub(crate) mod error;
pub mod futures;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod global;
pub(crate) mod guard;
pub(crate) mod phase;
pub(crate) mod reason;
pub(crate) mod shutdown;
#[cfg(feature = "track")]
pub(crate) mod track;
pub(crate) mod waiters;
