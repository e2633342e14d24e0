//! The scenario suite on async-std.
#![cfg(feature = "async-std")]

#[macro_use]
mod common;

use std::future::Future;

use winddown::async_std::AsyncStdRuntime;
use winddown::{AppExit, Plan, Report};

struct AsyncStd;

impl common::Harness for AsyncStd {
    type Runtime = AsyncStdRuntime;

    fn runtime() -> AsyncStdRuntime {
        AsyncStdRuntime::new()
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn run_until_shutdown<'a, F>(plan: &'a Plan, app: F) -> impl Future<Output = Report> + 'a
    where
        F: Future + 'a,
        F::Output: AppExit,
    {
        winddown::async_std::run_until_shutdown(plan, app)
    }

    fn run_blocking(plan: &Plan) -> Report {
        winddown::async_std::run_blocking(plan)
    }
}

scenarios!(AsyncStd);
