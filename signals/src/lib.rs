//! OS signals for [winddown](https://docs.rs/winddown).
//!
//! This crate will deliver SIGTERM and SIGINT (configurable) to a
//! [`Shutdown`](winddown_core::Shutdown) through `signal-hook`, with escalation on repeated
//! signals, and without needing an async runtime.
//!
//! Until that lands, it only re-exports the core so that the facade's layout is stable.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(no_inline)]
pub use winddown_core::{Reason, Shutdown};
