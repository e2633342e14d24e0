//! The status endpoint: a JSON snapshot of the shutdown.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower_service::Service;
use winddown_core::{Plan, ResourceRecord};

use crate::ShutdownLayer;

/// A status endpoint: `200` with a JSON snapshot of the shutdown, whatever its phase.
///
/// ```json
/// {"phase":"closing resources","ready":false,"reason":"signal 15","elapsed_ms":1250,
///  "in_flight":0,"requests_in_flight":0,"refused":17,"refused_requests":16,"status":null,
///  "phases":[{"phase":"initiated","at_ms":0,"duration_ms":0}, …],
///  "drain":{"in_flight_at_start":3,"left":0,"timed_out":false,"still_in_flight":[]},
///  "resources":[{"name":"http 127.0.0.1:8080","outcome":"ok","duration_ms":0}],
///  "flushes":[],"running":"db pool"}
/// ```
///
/// `elapsed_ms` counts from the trigger (`null` before it); `in_flight` counts every guard of
/// the shutdown (connections held by [`Server`](crate::Server) and requests admitted by
/// [`ShutdownLayer`]), `requests_in_flight` the requests alone (when built with
/// [`requests`](Self::requests) from a layer that names requests), `refused` every admission
/// refused since the close ([`Shutdown::refused`](winddown_core::Shutdown::refused):
/// requests, connections, tasks), and `refused_requests` (with [`requests`](Self::requests))
/// the requests among them the layer answered `503`. The rest is the plan's
/// [`progress`](Plan::progress): the phases
/// entered so far (offsets from the trigger), the drain once it ended, the resources and
/// flush hooks closed so far with their outcomes, the one running now, and the final status
/// once there is one.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use axum::Router;
/// use winddown::{Config, Plan, Shutdown};
/// use winddown::http::StatusService;
///
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let app: Router = Router::new().route_service("/status", StatusService::new(&plan));
/// ```
#[derive(Debug, Clone)]
pub struct StatusService {
    plan: Plan,
    layer: Option<ShutdownLayer>,
    /// When the sequence saw the trigger, on this process's clock: set by a phase observer.
    triggered_at: Arc<Mutex<Option<Instant>>>,
}

impl StatusService {
    /// The status of `plan`'s shutdown. Watches the plan's phases
    /// ([`Plan::on_phase`]): build it before the plan runs.
    pub fn new(plan: &Plan) -> Self {
        let triggered_at = Arc::new(Mutex::new(None));
        let observer = triggered_at.clone();
        plan.on_phase(move |_phase, at| {
            let mut triggered_at = observer.lock().unwrap_or_else(|e| e.into_inner());
            if triggered_at.is_none() {
                *triggered_at = Instant::now().checked_sub(at);
            }
        });
        StatusService {
            plan: plan.clone(),
            layer: None,
            triggered_at,
        }
    }

    /// Adds `requests_in_flight`, from a layer built with
    /// [`name_requests`](ShutdownLayer::name_requests), and `refused_requests`, the layer's
    /// `503` answers.
    pub fn requests<K>(mut self, layer: &ShutdownLayer<K>) -> Self {
        self.layer = Some(layer.counts());
        self
    }

    /// The JSON document the service answers with.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{smol, tokio}; pub mod http { pub use winddown_http::*; } }
    /// use winddown::{Config, Plan, Shutdown};
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let json = winddown::http::StatusService::new(&plan).snapshot();
    /// assert!(json.starts_with(r#"{"phase":"running","ready":true,"reason":null,"#), "{json}");
    /// ```
    pub fn snapshot(&self) -> String {
        let shutdown = self.plan.shutdown();
        let progress = self.plan.progress();
        let mut json = String::with_capacity(512);
        json.push_str("{\"phase\":");
        push_str(&mut json, shutdown.phase().as_str());
        let _ = write!(json, ",\"ready\":{}", shutdown.is_ready());
        json.push_str(",\"reason\":");
        match shutdown.reason() {
            Some(reason) => push_str(&mut json, &reason.to_string()),
            None => json.push_str("null"),
        }
        json.push_str(",\"elapsed_ms\":");
        let triggered_at = *self.triggered_at.lock().unwrap_or_else(|e| e.into_inner());
        match triggered_at {
            Some(at) => {
                let _ = write!(json, "{}", at.elapsed().as_millis());
            }
            None => json.push_str("null"),
        }
        let _ = write!(json, ",\"in_flight\":{}", shutdown.in_flight());
        if let Some(requests) = self.layer.as_ref().and_then(|l| l.requests_in_flight()) {
            let _ = write!(json, ",\"requests_in_flight\":{requests}");
        }
        let _ = write!(json, ",\"refused\":{}", shutdown.refused());
        if let Some(layer) = &self.layer {
            let _ = write!(json, ",\"refused_requests\":{}", layer.refused());
        }
        json.push_str(",\"status\":");
        match progress.status {
            Some(status) => push_str(&mut json, &status.to_string()),
            None => json.push_str("null"),
        }
        json.push_str(",\"phases\":[");
        for (i, record) in progress.phases.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str("{\"phase\":");
            push_str(&mut json, record.phase.as_str());
            let _ = write!(
                json,
                ",\"at_ms\":{},\"duration_ms\":{}}}",
                record.started.as_millis(),
                record.duration.as_millis()
            );
        }
        json.push_str("],\"drain\":");
        match &progress.drain {
            Some(drain) => {
                let _ = write!(
                    json,
                    "{{\"in_flight_at_start\":{},\"left\":{},\"timed_out\":{},\"still_in_flight\":[",
                    drain.in_flight_at_start, drain.left, drain.timed_out
                );
                for (i, name) in drain.still_in_flight.iter().enumerate() {
                    if i > 0 {
                        json.push(',');
                    }
                    push_str(&mut json, name);
                }
                json.push_str("]}");
            }
            None => json.push_str("null"),
        }
        json.push_str(",\"resources\":");
        push_records(&mut json, &progress.resources);
        json.push_str(",\"flushes\":");
        push_records(&mut json, &progress.flushes);
        json.push_str(",\"running\":");
        match &progress.running {
            Some(name) => push_str(&mut json, name),
            None => json.push_str("null"),
        }
        json.push('}');
        json
    }
}

/// `[{"name":…,"outcome":…,"duration_ms":…}, …]`
fn push_records(json: &mut String, records: &[ResourceRecord]) {
    json.push('[');
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str("{\"name\":");
        push_str(json, &record.name);
        json.push_str(",\"outcome\":");
        push_str(json, &record.outcome.to_string());
        let _ = write!(json, ",\"duration_ms\":{}}}", record.duration.as_millis());
    }
    json.push(']');
}

impl<B> Service<Request<B>> for StatusService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::from(self.snapshot())));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        ready(Ok(response))
    }
}

/// Appends `text` as a JSON string.
pub(crate) fn push_str(json: &mut String, text: &str) {
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(json, "\\u{:04x}", c as u32);
            }
            c => json.push(c),
        }
    }
    json.push('"');
}

#[cfg(test)]
mod tests {
    use winddown_core::testing::VirtualRuntime;
    use winddown_core::{Config, Plan, Reason, Resource, Shutdown};

    #[test]
    fn snapshot_follows_the_sequence_and_lists_closed_resources() {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        plan.register(Resource::blocking("db", || Ok::<(), String>(())))
            .unwrap();
        plan.register(Resource::blocking("cache", || {
            Err::<(), _>("refused \"quit\"")
        }))
        .unwrap();
        let status = super::StatusService::new(&plan);
        let before = status.snapshot();
        assert!(before.contains(r#""elapsed_ms":null"#), "{before}");
        assert!(before.contains(r#""resources":[]"#), "{before}");

        shutdown.trigger(Reason::Signal(15));
        let runtime = VirtualRuntime::new();
        runtime.block_on(plan.run(&runtime));
        let after = status.snapshot();
        assert!(
            after.starts_with(r#"{"phase":"completed","ready":false,"reason":"signal 15","#),
            "{after}"
        );
        assert!(after.contains(r#""status":"failed""#), "{after}");
        assert!(
            after.contains(r#"{"name":"db","outcome":"ok","duration_ms":0}"#),
            "{after}"
        );
        assert!(
            after.contains(r#"{"name":"cache","outcome":"error: refused \"quit\"""#),
            "{after}"
        );
        assert!(
            after.contains(r#""drain":{"in_flight_at_start":0,"left":0"#),
            "{after}"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mut json = String::new();
        super::push_str(&mut json, "a\"b\\c\nd\u{1}");
        assert_eq!(json, r#""a\"b\\c\nd\u0001""#);
    }
}
