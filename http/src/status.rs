//! The status endpoint: a JSON snapshot of the shutdown.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use winddown_core::Plan;

use crate::answer::{answer, answers_at_once, Answer};
use crate::ShutdownLayer;

/// A status endpoint: `200` with a JSON snapshot of the shutdown, whatever its phase.
///
/// The document is the plan's [`Progress`](winddown_core::Progress) as the report writes it
/// (one vocabulary: phases and statuses as `snake_case` strings, durations as milliseconds
/// with microsecond precision, the same `version`), with the server's own fields first:
///
/// ```json
/// {"ready":false,"elapsed_ms":1250.4,"requests_in_flight":0,"refused_requests":16,
///  "version":2,"phase":"closing_resources","reason":{"kind":"signal","signal":15},
///  "in_flight":0,"refused":17,"status":null,
///  "phases":[{"phase":"initiated","started_ms":0.0,"duration_ms":0.0}, …],
///  "drain":{"in_flight_at_start":3,"drained":3,"left":0,"timed_out":false, …},
///  "resources":[{"name":"http 127.0.0.1:8080","outcome":"ok", …,"duration_ms":0.3}],
///  "flushes":[],"running":"db pool","step_deadline_ms":6250.0}
/// ```
///
/// `ready` is `false` from the trigger on (what [`Readiness`](crate::Readiness) answers `503`
/// for); `elapsed_ms` counts from the trigger (`null` before it); `requests_in_flight` counts
/// the requests in flight and `refused_requests` the requests the layer answered `503` (both
/// only when built with [`requests`](Self::requests) from a layer; the first only when that
/// layer names requests). The rest is [`Plan::progress`], documented field by field on
/// [`Progress`](winddown_core::Progress): `in_flight` counts every guard of the shutdown
/// (connections held by [`Server`](crate::Server) and requests admitted by
/// [`ShutdownLayer`]), `refused` every admission refused since the close (requests,
/// connections, tasks).
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
    /// assert!(json.starts_with(r#"{"ready":true,"elapsed_ms":null,"version":2,"phase":"running","#), "{json}");
    /// ```
    pub fn snapshot(&self) -> String {
        let shutdown = self.plan.shutdown();
        // The core writes the progress: the server's fields go in front of its first field.
        let progress = match serde_json::to_string(&self.plan.progress()) {
            Ok(progress) => progress,
            // Only a serializer's own failure (none for these types): say so, never panic.
            Err(error) => return format!("{{\"error\":{}}}", json_string(&error.to_string())),
        };
        let mut json = String::with_capacity(progress.len() + 96);
        let _ = write!(json, "{{\"ready\":{}", !shutdown.is_triggered());
        json.push_str(",\"elapsed_ms\":");
        let triggered_at = *self.triggered_at.lock().unwrap_or_else(|e| e.into_inner());
        match triggered_at {
            // Whole microseconds, as the report writes its durations.
            Some(at) => {
                let micros = at.elapsed().as_micros();
                let _ = write!(json, "{}.{:03}", micros / 1000, micros % 1000);
            }
            None => json.push_str("null"),
        }
        if let Some(layer) = &self.layer {
            if let Some(requests) = layer.requests_in_flight() {
                let _ = write!(json, ",\"requests_in_flight\":{requests}");
            }
            let _ = write!(json, ",\"refused_requests\":{}", layer.refused());
        }
        // `progress` is an object: `{` and at least its `version` field.
        json.push(',');
        json.push_str(progress.strip_prefix('{').unwrap_or(&progress));
        json
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

impl StatusService {
    /// `200` with [`snapshot`](Self::snapshot).
    pub(crate) fn answer(&self) -> Answer {
        answer(
            StatusCode::OK,
            Bytes::from(self.snapshot()),
            "application/json",
        )
    }
}

answers_at_once!(StatusService, |this, _request| this.answer());

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use winddown_core::testing::VirtualRuntime;
    use winddown_core::{Config, Plan, Reason, Resource, Shutdown};

    use crate::ShutdownLayer;

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"))
    }

    #[test]
    fn snapshot_is_the_reports_progress_with_the_servers_fields() {
        let shutdown = Shutdown::new();
        let plan = Plan::new(shutdown.clone(), Config::default());
        plan.register(Resource::blocking("db", || Ok(()))).unwrap();
        plan.register(Resource::blocking("cache", || {
            Err("refused \"quit\"\n".into())
        }))
        .unwrap();
        let layer = ShutdownLayer::new(&shutdown).name_requests(&plan);
        let status = super::StatusService::new(&plan).requests(&layer);
        let before = parse(&status.snapshot());
        assert_eq!(before["ready"], true);
        assert_eq!(before["elapsed_ms"], Value::Null);
        assert_eq!(before["phase"], "running");
        assert_eq!(before["requests_in_flight"], 0);
        assert_eq!(before["refused_requests"], 0);
        assert_eq!(before["resources"], Value::Array(vec![]));

        shutdown.trigger(Reason::Signal(15));
        let runtime = VirtualRuntime::new();
        let report = runtime.block_on(plan.run(&runtime));
        let after = parse(&status.snapshot());
        assert_eq!(after["ready"], false);
        assert!(after["elapsed_ms"].is_number(), "{after}");
        // The report's own vocabulary, field for field.
        let progress = serde_json::to_value(plan.progress()).unwrap();
        for (key, value) in progress.as_object().unwrap() {
            if key != "in_flight" {
                assert_eq!(&after[key], value, "{key}");
            }
        }
        assert_eq!(after["version"], winddown_core::Report::JSON_VERSION);
        assert_eq!(after["phase"], "completed");
        assert_eq!(after["status"], "failed");
        assert_eq!(after["reason"]["kind"], "signal");
        let report = serde_json::to_value(&report).unwrap();
        assert_eq!(after["resources"], report["resources"]);
        let cache = after["resources"]
            .as_array()
            .and_then(|resources| resources.iter().find(|r| r["name"] == "cache"))
            .unwrap_or_else(|| panic!("no cache in {after}"));
        assert_eq!(cache["outcome"], "error", "{cache}");
        assert_eq!(cache["message"], "refused \"quit\"\n", "{cache}");
    }
}
