//! The stop sequence.

pub(crate) mod config;
#[cfg(feature = "serde")]
pub(crate) mod json;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod resource;
pub(crate) mod run;
pub mod runtime;
#[cfg(all(feature = "test-util", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
