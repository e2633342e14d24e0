//! The scenario suite on async-std.
#![cfg(feature = "async-std")]

#[macro_use]
mod common;

use std::future::Future;

use winddown::async_std::AsyncStdRuntime;

struct AsyncStd;

impl common::Harness for AsyncStd {
    type Runtime = AsyncStdRuntime;

    fn runtime() -> AsyncStdRuntime {
        AsyncStdRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

scenarios!(AsyncStd);
