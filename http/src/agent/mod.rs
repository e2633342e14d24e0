//! The haproxy agent check: tells haproxy, in its own words, what the shutdown is doing.
//!
//! haproxy's `agent-check` server option makes haproxy open a TCP connection to the
//! `agent-port` every `agent-inter` (2 s by default), read one line, and act on its words.
//! [`Agent`] answers that line from the shutdown's phase:
//!
//! | phase | reply | what haproxy does |
//! | --- | --- | --- |
//! | [`Running`](Phase::Running) | `ready` (`ready 75%` with a [weight](Agent::set_weight)) | the server takes traffic; `ready` also ends a `DRAIN` or `MAINT` a previous instance on this port left |
//! | [`Initiated`](Phase::Initiated) (from the trigger, through the plan's `pre_stop`) | `drain` | no new requests or connections, except persistent ones; requests in flight go on |
//! | [`StoppingNewRequests`](Phase::StoppingNewRequests) and after, [`Forced`](Phase::Forced) too | `maint` | nothing new at all, and the HTTP health checks stop |
//!
//! The words are read once per connection, at accept: the line says what the phase was when
//! haproxy asked. Once the plan has ended ([`Completed`](Phase::Completed) or
//! [`Forced`](Phase::Forced)) the agent closes its listener; haproxy does not count a refused
//! agent connection as a failure, so the server stays in `MAINT` until an instance on the same
//! agent port answers `ready`.
//!
//! # Why an agent check and not only the HTTP health check
//!
//! The `/readyz` probe (`Readiness`) says `503` from the trigger, but haproxy takes a server out
//! only after `fall` failed checks, `inter` apart (3 × 2 s by default): the plan's `pre_stop`
//! has to cover all of it. The agent's `drain` acts on the first reply, so `pre_stop` only has
//! to cover one `agent-inter`. And the server shows as `DRAIN (agent)` then `MAINT` on
//! haproxy's stats page, not `DOWN`: a planned restart, not an outage.
//!
//! # Examples
//!
//! haproxy, with the HTTP check and the agent side by side (the agent on port 8081):
//!
//! ```text
//! backend app
//!     option httpchk GET /readyz
//!     server app1 10.0.0.1:8080 check inter 2s agent-check agent-port 8081 agent-inter 2s
//! ```
//!
//! The service, on tokio:
//!
#![cfg_attr(feature = "tokio", doc = "```no_run")]
#![cfg_attr(not(feature = "tokio"), doc = "```ignore")]
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
//! use std::time::Duration;
//! use winddown::http::agent::Agent;
//! use winddown::{Config, Plan, Shutdown};
//!
//! # async fn run() -> std::io::Result<()> {
//! let shutdown = Shutdown::new();
//! let config = Config::builder()
//!     // One agent-inter (2 s) and a margin: then haproxy has read `drain`.
//!     .pre_stop(Duration::from_secs(3))
//!     .build()
//!     .expect("a valid config");
//! let plan = Plan::new(shutdown.clone(), config);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! // After the service's own listener: `ready` must mean connections are accepted.
//! let agent_listener = tokio::net::TcpListener::bind("0.0.0.0:8081").await?;
//! tokio::spawn(Agent::new(&shutdown).serve(agent_listener));
//! // ... serve the application on `listener` and run the plan ...
//! # Ok(())
//! # }
//! ```
//!
//! With another runtime, or another transport, answer [`Agent::reply`]'s
//! [`line`](Reply::line) on each connection yourself.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use winddown_core::{Phase, Shutdown};

#[cfg(any(feature = "tokio", feature = "smol"))]
mod serve;
#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(any(feature = "tokio", feature = "smol"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "tokio", feature = "smol"))))]
pub use serve::AgentListener;

/// The value of [`Agent`]'s weight cell when no weight is set: a `u16` never reaches it.
const NO_WEIGHT: u32 = u32::MAX;

/// An haproxy agent-check responder: answers `ready`, `drain` or `maint` from the shutdown's
/// phase (see the [module docs](self) for the table), optionally with a weight.
///
/// `Agent` is a handle: clones share the weight, so the application can change it (a warm-up
/// ramp, load feedback) while [`serve`](Agent::serve) answers. Serving needs the `tokio` or
/// the `smol` feature; [`reply`](Agent::reply) alone works anywhere.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
/// use winddown::http::agent::Agent;
/// use winddown::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let agent = Agent::new(&shutdown);
/// assert_eq!(agent.reply().line(), "ready\n");
/// shutdown.trigger(Reason::Signal(15));
/// assert_eq!(agent.reply().line(), "drain\n");
/// shutdown.close();
/// assert_eq!(agent.reply().line(), "maint\n");
/// ```
#[derive(Clone)]
pub struct Agent {
    shutdown: Shutdown,
    /// The weight percentage, or [`NO_WEIGHT`].
    weight: Arc<AtomicU32>,
}

impl Agent {
    /// The agent of `shutdown`, with no weight.
    pub fn new(shutdown: &Shutdown) -> Self {
        Agent {
            shutdown: shutdown.clone(),
            weight: Arc::new(AtomicU32::new(NO_WEIGHT)),
        }
    }

    /// Sets the weight the `ready` reply carries, as a percentage of the weight haproxy's
    /// configuration gives the server (`ready 50%`); `None` sends no weight.
    ///
    /// haproxy keeps the last weight an agent sent, even after the agent stops sending one,
    /// and caps the result at 256 (its largest weight); `0%` takes the server out of the
    /// balancing as `drain` does. So once you send a weight, keep sending one: set it back to
    /// `Some(100)`, not `None`, to restore the configured weight. A new instance on the same
    /// agent port that sends no weight leaves the previous instance's in place.
    ///
    /// The `drain` and `maint` replies carry no weight: those states take the server out
    /// whatever its weight, and the weight is left as it was for the next `ready`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::agent::Agent;
    /// use winddown::Shutdown;
    ///
    /// let agent = Agent::new(&Shutdown::new());
    /// let warm_up = agent.clone(); // shares the weight
    /// warm_up.set_weight(Some(10));
    /// assert_eq!(agent.reply().line(), "ready 10%\n");
    /// warm_up.set_weight(Some(100));
    /// assert_eq!(agent.reply().line(), "ready 100%\n");
    /// ```
    pub fn set_weight(&self, percent: Option<u16>) {
        let value = percent.map_or(NO_WEIGHT, u32::from);
        // Relaxed: the weight is a value on its own, read by the next reply; nothing else is
        // published with it, so no ordering with other memory is needed.
        self.weight.store(value, Ordering::Relaxed);
    }

    /// The weight set by [`set_weight`](Agent::set_weight).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::agent::Agent;
    /// use winddown::Shutdown;
    ///
    /// let agent = Agent::new(&Shutdown::new());
    /// assert_eq!(agent.weight(), None);
    /// agent.set_weight(Some(75));
    /// assert_eq!(agent.weight(), Some(75));
    /// ```
    pub fn weight(&self) -> Option<u16> {
        // Relaxed: see `set_weight`.
        u16::try_from(self.weight.load(Ordering::Relaxed)).ok()
    }

    /// The reply for the shutdown's phase now: [`Reply::for_phase`] of
    /// [`Shutdown::phase`] and the [weight](Agent::weight).
    ///
    /// # Examples
    ///
    /// See [`Agent`].
    pub fn reply(&self) -> Reply {
        Reply::for_phase(self.shutdown.phase(), self.weight())
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("phase", &self.shutdown.phase())
            .field("weight", &self.weight())
            .finish()
    }
}

/// One agent-check reply: what haproxy reads, as a value.
///
/// Its [`Display`](fmt::Display) is the reply's words (`ready 75%`); [`line`](Reply::line)
/// adds the newline haproxy waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// `ready`: the server takes traffic, and any `DRAIN` or `MAINT` an agent set ends.
    Ready {
        /// The weight, as a percentage of the configured one (`ready 75%`), or none.
        weight: Option<u16>,
    },
    /// `drain`: no new traffic except persistent sessions; what is in flight goes on.
    Drain,
    /// `maint`: no new traffic at all, and haproxy stops the server's health checks.
    Maint,
}

impl Reply {
    /// The reply for `phase`: `ready` while [`Running`](Phase::Running) (with `weight`, if
    /// any), `drain` once triggered while admissions are still open, `maint` once they are
    /// closed, for good.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::agent::Reply;
    /// use winddown::Phase;
    ///
    /// assert_eq!(Reply::for_phase(Phase::Running, Some(50)).line(), "ready 50%\n");
    /// assert_eq!(Reply::for_phase(Phase::Initiated, Some(50)), Reply::Drain);
    /// assert_eq!(Reply::for_phase(Phase::Draining, None), Reply::Maint);
    /// ```
    pub const fn for_phase(phase: Phase, weight: Option<u16>) -> Reply {
        match phase {
            Phase::Running => Reply::Ready { weight },
            // Triggered, admissions open: the plan's pre-stop window, in which haproxy should
            // stop sending new work while what it sends is still served.
            Phase::Initiated => Reply::Drain,
            // Admissions closed (or the stop over): anything haproxy sends would be refused.
            Phase::StoppingNewRequests
            | Phase::Draining
            | Phase::ClosingResources
            | Phase::FlushingBuffers
            | Phase::Completed
            | Phase::Forced => Reply::Maint,
        }
    }

    /// The reply as haproxy reads it: its words and a newline.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
    /// use winddown::http::agent::Reply;
    ///
    /// assert_eq!(Reply::Maint.line(), "maint\n");
    /// ```
    pub fn line(&self) -> String {
        format!("{self}\n")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ready { weight: None } => f.write_str("ready"),
            Reply::Ready {
                weight: Some(percent),
            } => write!(f, "ready {percent}%"),
            Reply::Drain => f.write_str("drain"),
            Reply::Maint => f.write_str("maint"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winddown_core::Reason;

    /// The words haproxy's agent check knows (its configuration manual, `agent-check`).
    const HAPROXY_WORDS: [&str; 8] = [
        "ready", "drain", "maint", "up", "down", "stopped", "fail", "maxconn:",
    ];

    /// Checks that `line` is one line haproxy parses: printable ASCII words separated by
    /// single spaces, each a known word or an integer percentage, ended by one `\n`.
    fn assert_haproxy_line(line: &str) {
        let words = line
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{line:?} does not end with a newline"));
        assert!(
            !words.contains(['\n', '\r']),
            "{line:?} is more than one line"
        );
        for word in words.split(' ') {
            let known = HAPROXY_WORDS.contains(&word)
                || word
                    .strip_suffix('%')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            assert!(known, "{word:?} in {line:?} is not an agent-check word");
        }
    }

    const WEIGHTS: [Option<u16>; 6] = [None, Some(0), Some(1), Some(50), Some(100), Some(u16::MAX)];

    #[test]
    fn every_phase_and_weight_gives_the_documented_line() {
        for phase in Phase::ALL {
            for weight in WEIGHTS {
                let reply = Reply::for_phase(phase, weight);
                let expected = match (phase, weight) {
                    (Phase::Running, None) => "ready\n".to_owned(),
                    (Phase::Running, Some(percent)) => format!("ready {percent}%\n"),
                    (Phase::Initiated, _) => "drain\n".to_owned(),
                    (
                        Phase::StoppingNewRequests
                        | Phase::Draining
                        | Phase::ClosingResources
                        | Phase::FlushingBuffers
                        | Phase::Completed
                        | Phase::Forced,
                        _,
                    ) => "maint\n".to_owned(),
                };
                assert_eq!(reply.line(), expected, "{phase:?} with weight {weight:?}");
                assert_haproxy_line(&reply.line());
            }
        }
    }

    #[test]
    fn ready_exactly_while_running_drain_exactly_while_admissions_are_open() {
        for phase in Phase::ALL {
            let reply = Reply::for_phase(phase, None);
            assert_eq!(
                matches!(reply, Reply::Ready { .. }),
                phase == Phase::Running,
                "{phase:?}"
            );
            assert_eq!(
                reply == Reply::Drain,
                phase != Phase::Running && !phase.admissions_closed(),
                "{phase:?}"
            );
            assert_eq!(
                reply == Reply::Maint,
                phase.admissions_closed(),
                "{phase:?}"
            );
        }
    }

    #[test]
    fn the_agent_follows_the_shutdown_through_every_phase() {
        let shutdown = Shutdown::new();
        let agent = Agent::new(&shutdown);
        agent.set_weight(Some(40));
        assert_eq!(agent.reply(), Reply::Ready { weight: Some(40) });
        shutdown.trigger(Reason::Signal(15));
        assert_eq!(agent.reply(), Reply::Drain);
        for phase in &Phase::ALL[2..7] {
            shutdown.advance(*phase).unwrap();
            assert_eq!(agent.reply(), Reply::Maint, "{phase:?}");
        }
    }

    #[test]
    fn a_forced_stop_answers_maint() {
        let shutdown = Shutdown::new();
        let agent = Agent::new(&shutdown);
        shutdown.trigger(Reason::Signal(15));
        shutdown.force(Reason::Signal(15));
        assert_eq!(agent.reply(), Reply::Maint);
    }

    #[test]
    fn clones_share_the_weight_and_none_clears_it() {
        let agent = Agent::new(&Shutdown::new());
        let other = agent.clone();
        other.set_weight(Some(0));
        assert_eq!(agent.reply().line(), "ready 0%\n");
        other.set_weight(Some(u16::MAX));
        assert_eq!(agent.weight(), Some(u16::MAX));
        other.set_weight(None);
        assert_eq!(agent.reply().line(), "ready\n");
    }
}
