//! What `examples/axum.rs` (tokio) and `examples/http_smol.rs` (smol) share: the flags, the
//! router, the plan, and the output. Each example brings its runtime: a listener, a sleep.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Response, Uri};
use axum::routing::MethodRouter;
use axum::routing::{get, post};
use axum::Router;
use tower::Layer as _;
use winddown::http::server::{ConnectionService, Handshake, Listener};
use winddown::http::tls::Tls;
use winddown::http::{
    AdminService, EndOnShutdown, ForServer, Liveness, Readiness, Server, ShutdownLayer,
    StatusService,
};
use winddown::runtime::Runtime;
use winddown::{run_until_shutdown, Config, Plan, Report, Shutdown};

use crate::output::{self, Stream};

/// `eprintln!` that never blocks: one line of progress on stderr (see `output`).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line($crate::output::Stream::Err, format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Prints `text` as a line on stdout, without ever blocking (see `output`).
pub(crate) fn out(text: &str) {
    output::line(Stream::Out, format_args!("{text}"));
}

/// What `main` does in both examples: reads the flags, listens for signals (before any thread
/// starts; each is logged, in order with the stop), runs `serve` (the service on its runtime),
/// and returns its exit code once the output is written (at most a second: see
/// `output::finish`). Nothing calls `process::exit`: the service's destructors run.
pub(crate) fn main(name: &'static str, serve: impl FnOnce(Args, Shutdown) -> u8) -> ExitCode {
    let code = match parse_args() {
        Ok(Some(args)) => {
            let shutdown = Shutdown::new();
            match winddown::signals::Builder::new()
                // `say!` never waits for a stream (output.rs): a hook that never blocks, run by
                // the listener itself.
                .on_event_inline(move |event| say!("{name}: {event}"))
                .listen(&shutdown)
            {
                Ok(signals) => {
                    let code = serve(args, shutdown);
                    output::finish(name);
                    // Not dropped: until the process is gone a third signal still ends it at
                    // once (143), and dropping it would only restore the signals' old
                    // behaviour and wait for its threads, a moment before they end with the
                    // process anyway.
                    std::mem::forget(signals);
                    code
                }
                Err(err) => {
                    say!("{name}: cannot listen for signals: {err}");
                    71 // EX_OSERR
                }
            }
        }
        Ok(None) => {
            out(&format!("{name}: {USAGE}"));
            0
        }
        Err(message) => {
            say!("{name}: {message}\n\n{USAGE}");
            64 // EX_USAGE
        }
    };
    // A no-op where it ran above.
    output::finish(name);
    ExitCode::from(code)
}

pub(crate) const USAGE: &str = "\
An HTTP service on 127.0.0.1 that shuts down gracefully.

OPTIONS:
    --port PORT            port to listen on (default 0: any free port)
    --drain-timeout SECS   how long to wait for requests in flight (default 10)
    --pre-stop SECS        how long /readyz says 503 before admissions close
                           (default 0); fractions allowed: --pre-stop 1.5
    --no-layer             serve without the shutdown layer (for benchmarks:
                           no admission, no 503, no request names)
    --admin-port PORT      also serve /readyz, /livez and /status on this port,
                           open until the end of the shutdown sequence (0: any
                           free port); prints `admin listening on ADDR`
    --agent-port PORT      also answer haproxy's agent check on PORT (0: any
                           free port): ready, drain from the signal, maint
                           once admissions close; prints `agent listening on
                           ADDR` before `ready`
    --keep-alive-grace SECS
                           at the close, keep an idle keep-alive connection whose
                           last response went out less than SECS before open
                           until then, to answer (503) a request its client is
                           already sending (default 0.25; 0: closed at once)
    --tls-cert PATH        serve HTTPS on --port, with this certificate chain
                           (PEM); needs --tls-key
    --tls-key PATH         the certificate's private key (PEM)
    -h, --help             print this help

Routes: / (fast), /slow?ms=N (answers `ok` after N ms), POST /upload (reads
its body to the end, answers its length), /sse (an event every 100 ms until the
shutdown, then a clean end), /ws (a WebSocket echo: each text or binary message
sent back), /ws?firehose=1 (a WebSocket that sends without pause and never
reads), /readyz, /livez, /status. At the close every open WebSocket gets
Close 1001 (going away) from the server; the connection line counts those that
answered and those cut.

It prints `listening on ADDR` (then `admin listening on ADDR` with
--admin-port, `agent listening on ADDR` with --agent-port), then `ready`, on
stdout. On SIGTERM or Ctrl-C:
/readyz says 503 for --pre-stop, then the listener closes, idle connections
close, requests in flight finish (new ones on open connections get 503), and at
--drain-timeout what is left is cut and named. It prints the report and the
connection counts on stdout and exits with the report's exit code: 0 completed,
1 failed, 2 timed out, 3 forced. A second signal forces the exit; a third ends
the process at once (143 for SIGTERM, 130 for SIGINT).";

/// The command line.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) port: u16,
    pub(crate) drain_timeout: Duration,
    pub(crate) pre_stop: Duration,
    pub(crate) layer: bool,
    pub(crate) admin_port: Option<u16>,
    pub(crate) agent_port: Option<u16>,
    /// `--tls-cert` and `--tls-key`.
    pub(crate) tls: Option<(String, String)>,
    /// `--keep-alive-grace`, if given.
    pub(crate) keep_alive_grace: Option<Duration>,
}

/// The flags, `Ok(None)` for `--help`.
pub(crate) fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        port: 0,
        drain_timeout: Duration::from_secs(10),
        pre_stop: Duration::ZERO,
        layer: true,
        admin_port: None,
        agent_port: None,
        tls: None,
        keep_alive_grace: None,
    };
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-layer" => {
                args.layer = false;
                continue;
            }
            "--port" | "--drain-timeout" | "--pre-stop" | "--admin-port" | "--agent-port"
            | "--tls-cert" | "--tls-key" | "--keep-alive-grace" => {}
            _ => return Err(format!("unknown option {flag:?}")),
        }
        let value = words
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => {
                args.port = value
                    .parse()
                    .map_err(|_| format!("--port takes a port, not {value:?}"))?
            }
            "--admin-port" => {
                args.admin_port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--admin-port takes a port, not {value:?}"))?,
                )
            }
            "--agent-port" => {
                args.agent_port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--agent-port takes a port, not {value:?}"))?,
                )
            }
            "--drain-timeout" => args.drain_timeout = seconds(&flag, &value)?,
            "--pre-stop" => args.pre_stop = seconds(&flag, &value)?,
            "--keep-alive-grace" => args.keep_alive_grace = Some(seconds(&flag, &value)?),
            "--tls-cert" => tls_cert = Some(value),
            "--tls-key" => tls_key = Some(value),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    args.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => return Err("--tls-cert needs --tls-key".to_owned()),
        (None, Some(_)) => return Err("--tls-key needs --tls-cert".to_owned()),
    };
    Ok(Some(args))
}

/// The TLS of `--tls-cert` and `--tls-key`, if given; the exit code and message if they
/// cannot be read or do not fit.
pub(crate) fn tls(name: &str, args: &Args) -> Result<Option<Tls>, u8> {
    let Some((cert, key)) = &args.tls else {
        return Ok(None);
    };
    match Tls::from_pem_files(cert, key) {
        Ok(tls) => Ok(Some(tls)),
        Err(err) => {
            say!("{name}: --tls-cert {cert} --tls-key {key}: {err}");
            Err(66) // EX_NOINPUT
        }
    }
}

/// Whether `uri` asks for the firehose (`?firehose=1`).
pub(crate) fn wants_firehose(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "firehose=1"))
}

/// What the firehose sends, message after message.
pub(crate) fn firehose_message(n: u64) -> String {
    format!("firehose {n:08} {}", "x".repeat(100))
}

/// The plan: the drain and pre-stop from the flags, room for the rest, progress on stderr.
pub(crate) fn plan(name: &str, args: &Args, shutdown: &Shutdown) -> Result<Plan, String> {
    let drain = if args.drain_timeout.is_zero() {
        Duration::from_millis(1)
    } else {
        args.drain_timeout
    };
    let config = Config::builder()
        .pre_stop(args.pre_stop)
        .drain(drain)
        // The pre-stop and the drain, and room to close and flush after them.
        .graceful(args.pre_stop + drain + Duration::from_secs(10))
        .build()
        .map_err(|err| err.to_string())?;
    let plan = Plan::new(shutdown.clone(), config);
    let name = name.to_owned();
    plan.on_phase(move |phase, at| {
        let millis = at.as_millis();
        say!(
            "{name}: [{:>3}.{:03}s] {phase}",
            millis / 1000,
            millis % 1000
        );
    });
    Ok(plan)
}

/// How the example's runtime sleeps.
pub(crate) type Sleep =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The routes, and the layer to put around them (none with `--no-layer`: see [`serve`]); `ws`
/// is the runtime's WebSocket route (`/ws`). The layer wraps the whole router, once (axum's
/// `Router::layer` would wrap each route on its own, and axum then boxes each layered route's
/// service and future again for every request), and lets the probes and the status page through
/// without admission: they answer through the whole shutdown (the liveness probe must, and the
/// readiness probe says 503 by itself). The server takes each request's admission from the
/// layer (`for_server`), so the responses keep axum's body.
pub(crate) fn router(
    plan: &Plan,
    sleep: Sleep,
    with_layer: bool,
    ws: MethodRouter,
) -> (Router, Option<ShutdownLayer<ForServer>>) {
    let shutdown = plan.shutdown().clone();
    let layer = with_layer.then(|| {
        ShutdownLayer::new(&shutdown)
            .retry_after(Duration::from_secs(1))
            .name_requests(plan)
            .exempt("/readyz")
            .exempt("/livez")
            .exempt("/status")
            .for_server()
    });
    let status = match &layer {
        Some(layer) => StatusService::new(plan).requests(layer),
        None => StatusService::new(plan),
    };
    let slow_sleep = sleep.clone();
    let sse_shutdown = shutdown.clone();
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/slow",
            get(move |uri: Uri| {
                let sleep = slow_sleep.clone();
                async move {
                    let ms = query_ms(&uri).unwrap_or(1000);
                    sleep(Duration::from_millis(ms)).await;
                    "ok\n"
                }
            }),
        )
        // Reads its body to the end (axum's default limit, 2 MB) before it answers: what a
        // client uploading slowly at the close is sent to.
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("{} bytes\n", body.len()) }),
        )
        .route(
            "/sse",
            get(move || {
                let body = Ticks::new(sleep.clone(), Duration::from_millis(100));
                let body = EndOnShutdown::new(body, &sse_shutdown);
                let mut response = Response::new(Body::new(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                async move { response }
            }),
        )
        .route("/ws", ws)
        .route_service("/status", status)
        .route_service("/readyz", Readiness::new(&shutdown))
        .route_service("/livez", Liveness::new())
        // Served as a service (not through `axum::serve`): axum builds its routes now rather
        // than for every request (axum's "A note about performance" on `with_state`).
        .with_state(());
    (app, layer)
}

/// Serves `app` (the router, behind `layer` if there is one) on `listener` with the server
/// settings of `args`, over TLS with `tls`, until the plan's stop, and returns its report;
/// prints `ready` as it starts. The router with and without the layer are two types, each
/// served by its own copy of the server: one `Either` of the two would add its dispatch and
/// moves to every request of both arms, which H1 (BENCHMARKS.md) compares.
pub(crate) async fn serve<R, L>(
    plan: &Plan,
    runtime: R,
    args: &Args,
    listener: L,
    tls: Option<Tls>,
    app: Router,
    layer: Option<ShutdownLayer<ForServer>>,
) -> Report
where
    R: Runtime + Clone + 'static,
    L: Listener,
    Tls: Handshake<L::Io>,
{
    let mut server = Server::new(plan, runtime.clone());
    if let Some(grace) = args.keep_alive_grace {
        server = server.keep_alive_grace(grace);
    }
    out("ready");
    async fn on<R, L, M, K>(
        plan: &Plan,
        runtime: R,
        served: Server<R>,
        listener: L,
        tls: Option<Tls>,
        app: M,
    ) -> Report
    where
        R: Runtime + Clone + 'static,
        L: Listener,
        Tls: Handshake<L::Io>,
        M: ConnectionService<K>,
    {
        match tls {
            Some(tls) => {
                let served = served.serve(listener.with_handshake(tls), app);
                run_until_shutdown(plan, runtime, served).await
            }
            None => run_until_shutdown(plan, runtime, served.serve(listener, app)).await,
        }
    }
    match layer {
        Some(layer) => on(plan, runtime, server, listener, tls, layer.layer(app)).await,
        None => on(plan, runtime, server, listener, tls, app).await,
    }
}

/// What `--admin-port` serves: the probes and the status page, with the layer's counts.
pub(crate) fn admin(plan: &Plan, layer: Option<&ShutdownLayer<ForServer>>) -> AdminService {
    let admin = AdminService::new(plan);
    match layer {
        Some(layer) => admin.requests(layer),
        None => admin,
    }
}

fn query_ms(uri: &Uri) -> Option<u64> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("ms="))?
        .parse()
        .ok()
}

/// Server-sent events: `data: tick N` every `every`, forever (until [`EndOnShutdown`] ends it).
struct Ticks {
    sleep: Sleep,
    every: Duration,
    next: Pin<Box<dyn Future<Output = ()> + Send>>,
    count: u64,
}

impl Ticks {
    fn new(sleep: Sleep, every: Duration) -> Self {
        // The first event at once, so a client knows the stream is open.
        let next: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async {});
        Ticks {
            sleep,
            every,
            next,
            count: 0,
        }
    }
}

impl http_body::Body for Ticks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.next.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.count += 1;
        this.next = (this.sleep)(this.every);
        let event = format!("data: tick {}\n\n", this.count);
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(event)))))
    }
}

/// Prints the report (with the server's connection counts, a note of the report) on stdout;
/// returns the exit code.
pub(crate) fn finish(report: &Report) -> u8 {
    // The server's connection counts are in the report, as a note.
    out(&report.to_string());
    // 0 to 3: see `Report::exit_code`.
    report.exit_code()
}

/// The value of a flag that takes seconds (`--drain-timeout 1.5`): finite, not negative, under
/// a million; or the error line that says so.
pub(crate) fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e6)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} takes a number of seconds, not {value:?}"))
}
