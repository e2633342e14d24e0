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
use winddown_core::{Phase, Plan, Shutdown};

use crate::ShutdownLayer;

/// A status endpoint: `200` with a JSON snapshot of the shutdown, whatever its phase.
///
/// ```json
/// {"phase":"draining","ready":false,"reason":"signal 15","elapsed_ms":1250,
///  "in_flight":3,"requests_in_flight":2,"refused":17,"phases":[{"phase":"initiated","at_ms":0}, …]}
/// ```
///
/// `elapsed_ms` counts from the trigger (`null` before it); `in_flight` counts every guard of
/// the shutdown (connections held by [`Server`](crate::Server) and requests admitted by
/// [`ShutdownLayer`]), `requests_in_flight` the requests alone (when built with
/// [`requests`](Self::requests) from a layer that names requests), `refused` the admissions
/// refused since the close, and `phases` the phases the plan has entered so far with their
/// offsets from the trigger.
///
/// # Examples
///
/// ```
/// use axum::Router;
/// use winddown_core::{Config, Plan, Shutdown};
/// use winddown_http::StatusService;
///
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let app: Router = Router::new().route_service("/status", StatusService::new(&plan));
/// ```
#[derive(Debug, Clone)]
pub struct StatusService {
    shutdown: Shutdown,
    layer: Option<ShutdownLayer>,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    triggered_at: Option<Instant>,
    phases: Vec<(Phase, u128)>,
}

impl StatusService {
    /// The status of `plan`'s shutdown. Watches the plan's phases
    /// ([`Plan::on_phase`]): build it before the plan runs.
    pub fn new(plan: &Plan) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let observer = seen.clone();
        plan.on_phase(move |phase, at| {
            let mut seen = observer.lock().unwrap_or_else(|e| e.into_inner());
            if seen.triggered_at.is_none() {
                seen.triggered_at = Instant::now().checked_sub(at);
            }
            seen.phases.push((phase, at.as_millis()));
        });
        StatusService {
            shutdown: plan.shutdown().clone(),
            layer: None,
            seen,
        }
    }

    /// Adds `requests_in_flight`, from a layer built with
    /// [`name_requests`](ShutdownLayer::name_requests).
    pub fn requests(mut self, layer: &ShutdownLayer) -> Self {
        self.layer = Some(layer.clone());
        self
    }

    /// The JSON document the service answers with.
    ///
    /// # Examples
    ///
    /// ```
    /// use winddown_core::{Config, Plan, Shutdown};
    /// let plan = Plan::new(Shutdown::new(), Config::default());
    /// let json = winddown_http::StatusService::new(&plan).snapshot();
    /// assert!(json.starts_with(r#"{"phase":"running","ready":true,"reason":null,"#), "{json}");
    /// ```
    pub fn snapshot(&self) -> String {
        let shutdown = &self.shutdown;
        let mut json = String::with_capacity(256);
        json.push_str("{\"phase\":");
        push_str(&mut json, shutdown.phase().as_str());
        let _ = write!(json, ",\"ready\":{}", shutdown.is_ready());
        json.push_str(",\"reason\":");
        match shutdown.reason() {
            Some(reason) => push_str(&mut json, &reason.to_string()),
            None => json.push_str("null"),
        }
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        json.push_str(",\"elapsed_ms\":");
        match seen.triggered_at {
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
        json.push_str(",\"phases\":[");
        for (i, (phase, at)) in seen.phases.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str("{\"phase\":");
            push_str(&mut json, phase.as_str());
            let _ = write!(json, ",\"at_ms\":{at}}}");
        }
        json.push_str("]}");
        json
    }
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
    #[test]
    fn strings_are_escaped() {
        let mut json = String::new();
        super::push_str(&mut json, "a\"b\\c\nd\u{1}");
        assert_eq!(json, r#""a\"b\\c\nd\u0001""#);
    }
}
