//! Every common shape of a closer compiles without an annotation: `|| async { Ok(()) }`, an
//! infallible closer (returning `()`), and fallible ones whose errors `?` converts (an
//! `io::Error`, a `Box<dyn Error + Send + Sync>`, a `String`, an error type of one's own). The
//! file compiling is half of the test (before, `Ok(())` alone failed with E0283, "type
//! annotations needed", and a closer returning `()` did not compile at all); the other half runs
//! each through a plan and checks what the report says of it.
#![cfg(feature = "test-util")]

use std::error::Error;
use std::fmt;
use std::io;

use winddown::testing::VirtualRuntime;
use winddown::{Config, Outcome, Plan, Reason, Resource, Shutdown, Status};

#[derive(Debug)]
struct PoolError;

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pool already closed")
    }
}

impl Error for PoolError {}

async fn close_pool() -> Result<(), PoolError> {
    Err(PoolError)
}

fn sync_file() -> io::Result<()> {
    Err(io::Error::other("disk full"))
}

async fn flush_client() {}

fn boxed() -> Result<(), Box<dyn Error + Send + Sync>> {
    Err("boxed".into())
}

fn text() -> Result<(), String> {
    Err(String::from("as text"))
}

/// Runs `resources` (registered in this order, so they close in reverse) through a stop and
/// returns each one's name and outcome, in the order they closed.
fn closed(resources: Vec<Resource>) -> Vec<(String, Outcome)> {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    for resource in resources {
        plan.register(resource).unwrap();
    }
    shutdown.trigger(Reason::requested());
    let runtime = VirtualRuntime::new();
    let report = runtime.block_on(plan.run(&runtime));
    assert_eq!(report.status, Status::Failed, "{report}");
    report
        .resources
        .into_iter()
        .map(|record| (record.name.into_owned(), record.outcome))
        .collect()
}

#[test]
fn async_closers_of_every_common_shape() {
    let outcomes = closed(vec![
        Resource::new("ok", || async { Ok(()) }),
        Resource::new("infallible", || async { flush_client().await }),
        Resource::new("empty", || async {}),
        Resource::new("io", || async {
            sync_file()?;
            Ok(())
        }),
        Resource::new("own error", || async {
            close_pool().await?;
            Ok(())
        }),
        Resource::new("boxed", || async { boxed() }),
        Resource::new("text", || async {
            text()?;
            Ok(())
        }),
        Resource::new("literal", || async { Err("refused".into()) }),
        Resource::new("mapped", || async {
            close_pool().await.map_err(Into::into)
        }),
    ]);
    let error = |text: &str| Outcome::Error(text.to_string());
    assert_eq!(
        outcomes,
        [
            ("mapped".to_string(), error("pool already closed")),
            ("literal".to_string(), error("refused")),
            ("text".to_string(), error("as text")),
            ("boxed".to_string(), error("boxed")),
            ("own error".to_string(), error("pool already closed")),
            ("io".to_string(), error("disk full")),
            ("empty".to_string(), Outcome::Ok),
            ("infallible".to_string(), Outcome::Ok),
            ("ok".to_string(), Outcome::Ok),
        ]
    );
}

#[test]
fn blocking_closers_of_every_common_shape() {
    let outcomes = closed(vec![
        Resource::blocking("ok", || Ok(())),
        Resource::blocking("infallible", || {}),
        Resource::blocking("io", || {
            sync_file()?;
            Ok(())
        }),
        Resource::blocking("boxed", boxed),
        Resource::blocking("literal", || Err("refused".into())),
    ]);
    assert_eq!(
        outcomes,
        [
            ("literal".to_string(), Outcome::Error("refused".into())),
            ("boxed".to_string(), Outcome::Error("boxed".into())),
            ("io".to_string(), Outcome::Error("disk full".into())),
            ("infallible".to_string(), Outcome::Ok),
            ("ok".to_string(), Outcome::Ok),
        ]
    );
}
