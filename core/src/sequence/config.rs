//! Deadlines of the shutdown sequence, validated when built.

use core::fmt;
use core::time::Duration;

/// [`Config::MAX_DEADLINE`], for the crate's own code.
pub(crate) const MAX_DEADLINE: Duration = Config::MAX_DEADLINE;

/// The deadlines of a shutdown sequence. Build one with [`Config::builder`]; the
/// [`Default`] is the builder's defaults.
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`graceful`](ConfigBuilder::graceful) | 30 s | the whole sequence, from the trigger to the end |
/// | [`drain`](ConfigBuilder::drain) | 10 s | waiting for the work in flight |
/// | [`close`](ConfigBuilder::close) | 5 s | each resource's close, unless it sets its own |
/// | [`flush`](ConfigBuilder::flush) | 5 s | the whole flush phase |
/// | [`forced_flush`](ConfigBuilder::forced_flush) | 1 s | the flush hooks' budget once the stop is forced (0: none) |
/// | [`pre_stop`](ConfigBuilder::pre_stop) | 0 | between "not ready" and closing admissions |
/// | [`force_after_deadline`](ConfigBuilder::force_after_deadline) | on | go to `Forced` when the graceful deadline passes |
///
/// # A forced stop still flushes
///
/// A forced stop (a second signal, [`Shutdown::force`](crate::Shutdown::force), the graceful
/// deadline with forcing on) cancels the closer running and skips the rest, but the flush hooks,
/// the buffered log or metrics most worth keeping, still run: all of them together within
/// [`forced_flush`](ConfigBuilder::forced_flush) of the force (a flush hook already running
/// when the force comes goes on within it too). So a forced stop may end up to `forced_flush`
/// after the graceful deadline: leave that margin before your supervisor's kill
/// (`TimeoutStopSec`, `terminationGracePeriodSeconds`). Set it to zero for a forced stop that
/// skips them; a third signal ends the process at once either way.
///
/// Defaults shrink to fit: a drain, close or flush deadline you did not set is at most its
/// share of the graceful deadline (a third for the drain, a sixth each for a close and the
/// flush, the proportions of the defaults), so `graceful(400ms)` alone builds (drain 133 ms,
/// close and flush 66 ms). Values you set are used as given and checked.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::Config;
///
/// let config = Config::builder()
///     .graceful(Duration::from_secs(20))
///     .drain(Duration::from_secs(8))
///     .pre_stop(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(config.drain(), Duration::from_secs(8));
/// // Not set: the default 5 s, shrunk to a sixth of the 20 s graceful deadline.
/// assert_eq!(config.close(), Duration::from_secs(20) / 6);
///
/// // A short graceful deadline alone: the defaults shrink to fit it.
/// let quick = Config::builder().graceful(Duration::from_millis(600)).build()?;
/// assert_eq!(quick.drain(), Duration::from_millis(200));
/// assert_eq!(quick.close(), Duration::from_millis(100));
/// # Ok::<(), winddown::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    graceful: Duration,
    drain: Duration,
    close: Duration,
    flush: Duration,
    forced_flush: Duration,
    pre_stop: Duration,
    force_after_deadline: bool,
}

/// Builds a [`Config`]; see there for the settings and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ConfigBuilder {
    config: Config,
    /// Which of drain, close, flush and the forced flush were set (`DRAIN`, `CLOSE`, `FLUSH`,
    /// `FORCED_FLUSH`): the others are defaults, which shrink to fit.
    set: u8,
}

const DRAIN: u8 = 1;
const CLOSE: u8 = 2;
const FLUSH: u8 = 4;
const FORCED_FLUSH: u8 = 8;

/// A default deadline, shrunk to its share (`graceful / divisor`) of a shorter graceful
/// deadline, and never zero.
fn fit(default: Duration, graceful: Duration, divisor: u32) -> Duration {
    default.min(graceful / divisor).max(Duration::from_nanos(1))
}

/// A [`Config`] that cannot work, found by [`ConfigBuilder::build`].
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use std::time::Duration;
/// use winddown::{Config, ConfigError};
///
/// let err = Config::builder()
///     .graceful(Duration::from_secs(5))
///     .drain(Duration::from_secs(10))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, ConfigError::LongerThanGraceful { setting: "drain", .. }));
/// assert_eq!(err.to_string(), "the drain deadline (10s) is longer than the graceful deadline (5s)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A deadline that must be positive is zero.
    Zero {
        /// Which setting: `"graceful"`, `"drain"`, `"close"` or `"flush"`.
        setting: &'static str,
    },
    /// A deadline is longer than the graceful deadline that bounds it.
    LongerThanGraceful {
        /// Which setting: `"drain"`, `"close"` or `"flush"`.
        setting: &'static str,
        /// Its value.
        value: Duration,
        /// The graceful deadline.
        graceful: Duration,
    },
    /// The pre-stop delay leaves no time for the rest of the sequence.
    PreStopTooLong {
        /// The pre-stop delay.
        pre_stop: Duration,
        /// The graceful deadline.
        graceful: Duration,
    },
    /// The forced flush budget is longer than the flush deadline.
    ForcedFlushTooLong {
        /// The forced flush budget.
        forced_flush: Duration,
        /// The flush deadline.
        flush: Duration,
    },
    /// A deadline is larger than [`Config::MAX_DEADLINE`].
    Overflow {
        /// Which setting.
        setting: &'static str,
    },
}

impl Config {
    /// The largest deadline accepted anywhere: about 136 years. Larger values are refused as an
    /// overflow, so that adding any deadline to a runtime's clock can never overflow.
    pub const MAX_DEADLINE: Duration = Duration::from_secs(u32::MAX as u64);

    /// A builder with the defaults.
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                graceful: Duration::from_secs(30),
                drain: Duration::from_secs(10),
                close: Duration::from_secs(5),
                flush: Duration::from_secs(5),
                forced_flush: Duration::from_secs(1),
                pre_stop: Duration::ZERO,
                force_after_deadline: true,
            },
            set: 0,
        }
    }

    /// The deadline for the whole sequence, counted from the trigger.
    pub const fn graceful(&self) -> Duration {
        self.graceful
    }

    /// The deadline for the drain.
    pub const fn drain(&self) -> Duration {
        self.drain
    }

    /// The default deadline for closing one resource.
    pub const fn close(&self) -> Duration {
        self.close
    }

    /// The deadline for the whole flush phase.
    pub const fn flush(&self) -> Duration {
        self.flush
    }

    /// The flush hooks' budget once the stop is forced, from the force; zero: a forced stop
    /// skips them (see [A forced stop still flushes](Self#a-forced-stop-still-flushes)).
    pub const fn forced_flush(&self) -> Duration {
        self.forced_flush
    }

    /// The delay between reporting "not ready" and closing admissions.
    pub const fn pre_stop(&self) -> Duration {
        self.pre_stop
    }

    /// Whether passing the graceful deadline forces the shutdown.
    pub const fn force_after_deadline(&self) -> bool {
        self.force_after_deadline
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::builder().config
    }
}

impl ConfigBuilder {
    /// The deadline for the whole sequence, from the trigger to the end (default 30 s). When it
    /// passes with [`force_after_deadline`](Self::force_after_deadline) on, the shutdown is
    /// forced: running closers are cancelled and the rest are skipped. Must not be zero.
    pub const fn graceful(mut self, deadline: Duration) -> Self {
        self.config.graceful = deadline;
        self
    }

    /// The deadline for the drain (default 10 s, or a third of a shorter graceful deadline): after it, the sequence moves on to close
    /// resources with work still in flight, and the report says how much. Must not be zero nor
    /// longer than the graceful deadline.
    pub const fn drain(mut self, deadline: Duration) -> Self {
        self.config.drain = deadline;
        self.set |= DRAIN;
        self
    }

    /// The default deadline for closing one resource (default 5 s, or a sixth of a shorter
    /// graceful deadline); a resource may set its
    /// own. Must not be zero nor longer than the graceful deadline.
    pub const fn close(mut self, deadline: Duration) -> Self {
        self.config.close = deadline;
        self.set |= CLOSE;
        self
    }

    /// The deadline for the whole flush phase (default 5 s, or a sixth of a shorter graceful
    /// deadline). Must not be zero nor longer than
    /// the graceful deadline.
    pub const fn flush(mut self, deadline: Duration) -> Self {
        self.config.flush = deadline;
        self.set |= FLUSH;
        self
    }

    /// How long the flush hooks may still run once the stop is forced, all of them together,
    /// counted from the force (default 1 s, or the flush deadline if that is shorter). Zero
    /// turns it off: a forced stop skips the flush hooks. Must not be longer than the flush
    /// deadline. See [A forced stop still flushes](Config#a-forced-stop-still-flushes).
    pub const fn forced_flush(mut self, budget: Duration) -> Self {
        self.config.forced_flush = budget;
        self.set |= FORCED_FLUSH;
        self
    }

    /// The delay between reporting "not ready" and closing admissions (default 0), for load
    /// balancers to notice. Must be shorter than the graceful deadline.
    pub const fn pre_stop(mut self, delay: Duration) -> Self {
        self.config.pre_stop = delay;
        self
    }

    /// Whether passing the graceful deadline forces the shutdown (default on). When off, the
    /// remaining steps still run, each within its own deadline, and the report says the
    /// graceful deadline passed.
    pub const fn force_after_deadline(mut self, force: bool) -> Self {
        self.config.force_after_deadline = force;
        self
    }

    /// Checks the settings and returns the config.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that cannot work: a zero deadline, a deadline
    /// longer than the graceful one, a forced flush budget longer than the flush deadline, a
    /// pre-stop delay that leaves no time, or a value over [`Config::MAX_DEADLINE`].
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut c = self.config;
        if c.graceful <= MAX_DEADLINE {
            if self.set & DRAIN == 0 {
                c.drain = fit(c.drain, c.graceful, 3);
            }
            if self.set & CLOSE == 0 {
                c.close = fit(c.close, c.graceful, 6);
            }
            if self.set & FLUSH == 0 {
                c.flush = fit(c.flush, c.graceful, 6);
            }
            if self.set & FORCED_FLUSH == 0 {
                c.forced_flush = c.forced_flush.min(c.flush);
            }
        }
        let settings = [
            ("graceful", c.graceful),
            ("drain", c.drain),
            ("close", c.close),
            ("flush", c.flush),
            ("forced flush", c.forced_flush),
            ("pre-stop", c.pre_stop),
        ];
        for (setting, value) in settings {
            if value > MAX_DEADLINE {
                return Err(ConfigError::Overflow { setting });
            }
            if value.is_zero() && setting != "pre-stop" && setting != "forced flush" {
                return Err(ConfigError::Zero { setting });
            }
        }
        for (setting, value) in [("drain", c.drain), ("close", c.close), ("flush", c.flush)] {
            if value > c.graceful {
                return Err(ConfigError::LongerThanGraceful {
                    setting,
                    value,
                    graceful: c.graceful,
                });
            }
        }
        if c.forced_flush > c.flush {
            return Err(ConfigError::ForcedFlushTooLong {
                forced_flush: c.forced_flush,
                flush: c.flush,
            });
        }
        if c.pre_stop >= c.graceful {
            return Err(ConfigError::PreStopTooLong {
                pre_stop: c.pre_stop,
                graceful: c.graceful,
            });
        }
        Ok(c)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Zero { setting } => write!(f, "the {setting} deadline must not be zero"),
            ConfigError::LongerThanGraceful { setting, value, graceful } => write!(
                f,
                "the {setting} deadline ({value:?}) is longer than the graceful deadline ({graceful:?})"
            ),
            ConfigError::PreStopTooLong { pre_stop, graceful } => write!(
                f,
                "the pre-stop delay ({pre_stop:?}) leaves no time within the graceful deadline ({graceful:?})"
            ),
            ConfigError::ForcedFlushTooLong {
                forced_flush,
                flush,
            } => write!(
                f,
                "the forced flush budget ({forced_flush:?}) is longer than the flush deadline ({flush:?})"
            ),
            ConfigError::Overflow { setting } => write!(
                f,
                "the {setting} deadline is larger than the maximum of {} seconds",
                MAX_DEADLINE.as_secs()
            ),
        }
    }
}

impl core::error::Error for ConfigError {}
