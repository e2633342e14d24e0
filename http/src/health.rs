//! Readiness and liveness probes as tower services.

use http::StatusCode;
use winddown_core::Shutdown;

use crate::answer::{answers_at_once, text, Answer};

/// A readiness probe: `200 ready` while the shutdown is running, `503 not ready` from the
/// trigger on.
///
/// The trigger comes first, then the plan's `pre_stop` delay, then the close of admissions: so
/// during `pre_stop` this probe already says `503` while [`ShutdownLayer`](crate::ShutdownLayer)
/// still admits and serves every request. That is the window in which a load balancer (or
/// Kubernetes' endpoint controller) notices and stops routing here; set `pre_stop` longer than
/// its check interval times its failure threshold.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::Router;
/// use winddown::Shutdown;
/// use winddown::http::{Liveness, Readiness};
///
/// let shutdown = Shutdown::new();
/// let app: Router = Router::new()
///     .route_service("/readyz", Readiness::new(&shutdown))
///     .route_service("/livez", Liveness::new());
/// ```
#[derive(Debug, Clone)]
pub struct Readiness {
    shutdown: Shutdown,
}

impl Readiness {
    /// The readiness of `shutdown`.
    pub fn new(shutdown: &Shutdown) -> Self {
        Readiness {
            shutdown: shutdown.clone(),
        }
    }
}

impl Readiness {
    /// `200 ready` until the trigger, `503 not ready` from then on.
    pub(crate) fn answer(&self) -> Answer {
        if !self.shutdown.is_triggered() {
            text(StatusCode::OK, "ready\n")
        } else {
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
        }
    }
}

answers_at_once!(Readiness, |this, _request| this.answer());

/// A liveness probe: `200 alive` for as long as the process answers, the shutdown included
/// (a probe that failed during the drain would get the process killed before it finished).
///
/// # Examples
///
/// See [`Readiness`].
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    _private: (),
}

impl Liveness {
    /// The liveness probe.
    pub fn new() -> Self {
        Liveness { _private: () }
    }
}

impl Liveness {
    /// `200 alive`, always.
    pub(crate) fn answer(&self) -> Answer {
        text(StatusCode::OK, "alive\n")
    }
}

answers_at_once!(Liveness, |this, _request| this.answer());
