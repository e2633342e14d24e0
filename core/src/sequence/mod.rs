//! The stop sequence.

pub(crate) mod config;
mod draft;
pub(crate) mod error;
#[cfg(feature = "serde")]
pub(crate) mod json;
pub(crate) mod plan;
pub(crate) mod progress;
mod record;
pub(crate) mod report;
pub(crate) mod resource;
mod run;
pub mod runtime;
mod state;
#[cfg(all(feature = "test-util", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
