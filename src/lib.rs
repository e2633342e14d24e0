//! placeholder
pub use winddown_core::*;
