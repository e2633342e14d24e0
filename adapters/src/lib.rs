//! Runtime adapters and integrations for [winddown](https://docs.rs/winddown).
//!
//! This crate will hold the `tokio`, `smol` and `async-std` implementations of the core's runtime
//! trait, background-task helpers, and the `tower` and `systemd` integrations, each behind the
//! feature of that name. Nothing is enabled by default, so depending on it pulls in no runtime.
//!
//! Until those land, it only re-exports the core so that the facade's layout is stable.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(no_inline)]
pub use winddown_core::{Guard, Phase, Shutdown};
