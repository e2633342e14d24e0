//! The one module with `unsafe` code: the shared allocation of a scope and its untyped
//! admission algorithm, behind two safe types, and the two cells the rest of the crate locks
//! or shares values with.
//!
//! Why apart: the protocol that keeps a scope's memory alive without a reference count per
//! guard (three counts, two flag bits in each stripe's word, a weak unit paid at the close) is
//! only sound as a whole, so it reads in one place, in the order of the invariants numbered in
//! `word.rs`, with every `unsafe` block citing the one it relies on. Everything outside this
//! module is safe code (`#![deny(unsafe_code)]` at the crate root; a CI step checks that no
//! `unsafe` appears outside `raw/`). It is the basement of the admission engine
//! (`engine/`): `Shutdown` holds a [`RawHandle`], `Guard` a [`RawGuard`], and the engine's
//! behaviour (phases, hooks, waiters, propagation) is written over [`Header`]'s safe methods.
//! The stop sequence (`sequence/`) uses only the cells ([`Lock`], [`Exclusive`]).
//!
//! | file | holds |
//! |---|---|
//! | `word.rs` | a stripe's word: bits, pure encode/decode fns, the numbered invariants |
//! | `header.rs` | the allocation: header and stripes, making it, freeing it |
//! | `admission.rs` | the three counts; enter, fork, leave; closing the stripes; the drain |
//! | `trigger.rs` | the phase word, the trigger count, the first reason (invariant 8) |
//! | `tree.rs` | a parent's list of children (invariant 7) |
//! | `handle.rs` | [`RawHandle`] (Clone + Drop) and [`RawGuard`] (Drop + fork) |
//! | `lock.rs` | [`Lock`], the core's short-critical-section lock |
//! | `exclusive.rs` | [`Exclusive`], a `Sync` cell with no shared access |
//! | `cpus.rs` | with `std`, the CPUs of the process's affinity mask (one system call): the default stripe count |

mod admission;
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod cpus;
mod exclusive;
mod handle;
mod header;
mod lock;
mod tree;
mod trigger;
mod word;

pub(crate) use exclusive::Exclusive;
pub(crate) use handle::{RawGuard, RawHandle};
pub(crate) use header::Header;
pub(crate) use lock::Lock;
