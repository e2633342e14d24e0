//! The one module with `unsafe` code.

pub(crate) mod header;
pub(crate) mod word;
