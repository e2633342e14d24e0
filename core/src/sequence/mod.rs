//! The stop sequence: a [`Plan`](crate::Plan) of resources and flush hooks, run over a
//! [`Runtime`](crate::runtime::Runtime) to a [`Report`](crate::Report).
//!
//! It uses the admission engine only through the crate's public re-exports, as an
//! integration would. `run.rs` is the control flow, `record.rs` the report keeping; see
//! `core/ARCHITECTURE.md` for the whole map.

mod close;
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
mod step;
#[cfg(all(feature = "test-util", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
mod text;
