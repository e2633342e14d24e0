//! The admin service: the probes and the status page behind one service, for a listener of
//! their own.

use http::StatusCode;
use winddown_core::Plan;

use crate::answer::{answers_at_once, text};
use crate::{Liveness, Readiness, ShutdownLayer, StatusService};

/// `GET /readyz` ([`Readiness`]), `GET /livez` ([`Liveness`]) and `GET /status`
/// ([`StatusService`]) as one service, `404` for anything else: what an admin listener serves
/// ([`Server::serve_admin`](crate::Server::serve_admin)), on a port of its own that stays open
/// through the whole shutdown sequence, while the main listener is closed.
///
/// Build it before the plan runs (the status page watches the plan's phases).
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use http_body_util::BodyExt;
/// use tower_service::Service;
/// use winddown::http::{AdminService, ShutdownLayer};
/// use winddown::{Config, Plan, Reason, Shutdown};
///
/// # futures_lite::future::block_on(async {
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let layer = ShutdownLayer::new(plan.shutdown()).name_requests(&plan);
/// let mut admin = AdminService::new(&plan).requests(&layer);
/// plan.shutdown().trigger(Reason::Signal(15));
/// let ready = admin.call(http::Request::get("/readyz").body(()).unwrap()).await.unwrap();
/// assert_eq!(ready.status(), 503);
/// let status = admin.call(http::Request::get("/status").body(()).unwrap()).await.unwrap();
/// let json = status.into_body().collect().await.unwrap().to_bytes();
/// let json = std::str::from_utf8(&json).unwrap();
/// assert!(json.starts_with(r#"{"ready":false,"#) && json.contains(r#""phase":"initiated""#));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct AdminService {
    readiness: Readiness,
    liveness: Liveness,
    status: StatusService,
}

impl AdminService {
    /// The probes and status of `plan`'s shutdown.
    pub fn new(plan: &Plan) -> Self {
        AdminService {
            readiness: Readiness::new(plan.shutdown()),
            liveness: Liveness::new(),
            status: StatusService::new(plan),
        }
    }

    /// Adds the layer's request counts to the status page (see
    /// [`StatusService::requests`]).
    pub fn requests<K>(mut self, layer: &ShutdownLayer<K>) -> Self {
        self.status = self.status.requests(layer);
        self
    }
}

answers_at_once!(AdminService, |this, request| match request.uri().path() {
    "/readyz" => this.readiness.answer(),
    "/livez" => this.liveness.answer(),
    "/status" => this.status.answer(),
    _ => text(StatusCode::NOT_FOUND, "not found\n"),
});
