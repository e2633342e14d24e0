//! Config validation: each error, one by one, with its message.
#![cfg(not(loom))]

use std::time::Duration;

use winddown_core::{Config, ConfigError};

const MAX_DEADLINE: Duration = Config::MAX_DEADLINE;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn message(builder: winddown_core::ConfigBuilder) -> String {
    builder.build().unwrap_err().to_string()
}

#[test]
fn defaults_are_valid() {
    let config = Config::builder().build().unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(
        (
            config.graceful(),
            config.drain(),
            config.close(),
            config.flush(),
            config.forced_flush(),
            config.pre_stop()
        ),
        (
            secs(30),
            secs(10),
            secs(5),
            secs(5),
            secs(1),
            Duration::ZERO
        )
    );
    assert!(config.force_after_deadline());
}

#[test]
fn zero_graceful_deadline() {
    let builder = Config::builder().graceful(Duration::ZERO);
    assert_eq!(
        builder.build(),
        Err(ConfigError::Zero {
            setting: "graceful"
        })
    );
    assert_eq!(message(builder), "the graceful deadline must not be zero");
}

#[test]
fn zero_drain_close_and_flush_deadlines() {
    assert_eq!(
        message(Config::builder().drain(Duration::ZERO)),
        "the drain deadline must not be zero"
    );
    assert_eq!(
        message(Config::builder().close(Duration::ZERO)),
        "the close deadline must not be zero"
    );
    assert_eq!(
        message(Config::builder().flush(Duration::ZERO)),
        "the flush deadline must not be zero"
    );
}

#[test]
fn a_zero_pre_stop_delay_is_fine() {
    assert!(Config::builder().pre_stop(Duration::ZERO).build().is_ok());
}

#[test]
fn drain_longer_than_graceful() {
    let builder = Config::builder().graceful(secs(5)).drain(secs(6));
    assert_eq!(
        builder.build(),
        Err(ConfigError::LongerThanGraceful {
            setting: "drain",
            value: secs(6),
            graceful: secs(5)
        })
    );
    assert_eq!(
        message(builder),
        "the drain deadline (6s) is longer than the graceful deadline (5s)"
    );
}

#[test]
fn close_and_flush_longer_than_graceful() {
    assert_eq!(
        message(
            Config::builder()
                .graceful(secs(4))
                .drain(secs(1))
                .close(secs(5))
        ),
        "the close deadline (5s) is longer than the graceful deadline (4s)"
    );
    assert_eq!(
        message(
            Config::builder()
                .graceful(secs(4))
                .drain(secs(1))
                .close(secs(1))
                .flush(secs(5))
        ),
        "the flush deadline (5s) is longer than the graceful deadline (4s)"
    );
}

#[test]
fn pre_stop_as_long_as_graceful() {
    let builder = Config::builder()
        .graceful(secs(10))
        .drain(secs(5))
        .pre_stop(secs(10));
    assert_eq!(
        builder.build(),
        Err(ConfigError::PreStopTooLong {
            pre_stop: secs(10),
            graceful: secs(10)
        })
    );
    assert_eq!(
        message(builder),
        "the pre-stop delay (10s) leaves no time within the graceful deadline (10s)"
    );
}

#[test]
fn overflowing_deadlines() {
    let builder = Config::builder().graceful(Duration::MAX);
    assert_eq!(
        builder.build(),
        Err(ConfigError::Overflow {
            setting: "graceful"
        })
    );
    assert_eq!(
        message(builder),
        "the graceful deadline is larger than the maximum of 4294967295 seconds"
    );
    assert_eq!(
        Config::builder()
            .graceful(MAX_DEADLINE)
            .pre_stop(MAX_DEADLINE + secs(1))
            .build(),
        Err(ConfigError::Overflow {
            setting: "pre-stop"
        })
    );
    assert!(Config::builder().graceful(MAX_DEADLINE).build().is_ok());
}

#[test]
fn defaults_shrink_to_fit_a_short_graceful_deadline() {
    let config = Config::builder()
        .graceful(Duration::from_millis(400))
        .build()
        .unwrap();
    assert_eq!(config.drain(), Duration::from_nanos(133_333_333));
    assert_eq!(config.close(), Duration::from_nanos(66_666_666));
    assert_eq!(config.flush(), Duration::from_nanos(66_666_666));
    // A long graceful deadline keeps the defaults as they are.
    let long = Config::builder()
        .graceful(Duration::from_secs(300))
        .build()
        .unwrap();
    assert_eq!(long.drain(), Duration::from_secs(10));
    assert_eq!(long.close(), Duration::from_secs(5));
    // Even a graceful deadline of one nanosecond builds: no default becomes zero.
    let tiny = Config::builder()
        .graceful(Duration::from_nanos(1))
        .build()
        .unwrap();
    assert_eq!(tiny.close(), Duration::from_nanos(1));
}

#[test]
fn values_the_user_set_are_still_validated() {
    let err = Config::builder()
        .graceful(Duration::from_millis(400))
        .drain(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::LongerThanGraceful {
            setting: "drain",
            value: Duration::from_secs(1),
            graceful: Duration::from_millis(400),
        }
    );
    // A set value is kept while the unset ones shrink.
    let config = Config::builder()
        .graceful(Duration::from_millis(400))
        .close(Duration::from_millis(300))
        .build()
        .unwrap();
    assert_eq!(config.close(), Duration::from_millis(300));
    assert_eq!(config.drain(), Duration::from_nanos(133_333_333));
}

#[test]
fn the_forced_flush_budget_fits_the_flush_deadline() {
    // Not set: 1 s, or the flush deadline if that is shorter (set, or shrunk).
    let short = Config::builder()
        .flush(Duration::from_millis(300))
        .build()
        .unwrap();
    assert_eq!(short.forced_flush(), Duration::from_millis(300));
    let shrunk = Config::builder()
        .graceful(Duration::from_millis(600))
        .build()
        .unwrap();
    assert_eq!(shrunk.forced_flush(), Duration::from_millis(100));
    // Zero turns it off, and is valid.
    let off = Config::builder()
        .forced_flush(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(off.forced_flush(), Duration::ZERO);
    // Set longer than the flush deadline: refused.
    let builder = Config::builder().flush(secs(2)).forced_flush(secs(3));
    assert_eq!(
        builder.build(),
        Err(ConfigError::ForcedFlushTooLong {
            forced_flush: secs(3),
            flush: secs(2)
        })
    );
    assert_eq!(
        message(builder),
        "the forced flush budget (3s) is longer than the flush deadline (2s)"
    );
    assert_eq!(
        Config::builder()
            .forced_flush(MAX_DEADLINE + secs(1))
            .build(),
        Err(ConfigError::Overflow {
            setting: "forced flush"
        })
    );
}
