//! The server's races, with the order of its tasks chosen by the test: every task (the
//! server's accept loop, each connection, the plan's sequence) is polled by hand, in an order
//! the test sets, over in-memory sockets, with no timer that fires on its own. Nothing here
//! depends on a scheduler's luck.
#![cfg(all(feature = "hyper", feature = "tokio"))]

mod manual;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use manual::{mem_listener, Order, Tasks};
use winddown_core::testing::VirtualRuntime;
use winddown_core::{Config, ForcedBy, Phase, Plan, Reason, Shutdown, Status};
use winddown_http::ShutdownLayer;

/// A second signal while a request is in flight forces the stop; the report counts what the
/// force cut as left, names it (request and connection), and gives the escalation as the
/// cause, whether the connections' tasks or the sequence run first after the signal.
fn a_second_signal_reports_what_it_cut(order: Order) {
    let shutdown = Shutdown::new();
    let plan = Plan::new(
        shutdown.clone(),
        Config::builder()
            .drain(Duration::from_secs(30))
            .graceful(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let entered = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/slow",
            get({
                let entered = entered.clone();
                move || {
                    entered.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<&'static str>()
                }
            }),
        )
        .layer(ShutdownLayer::new(&shutdown).name_requests(&plan));
    let tasks = Tasks::new();
    let (listener, connector) = mem_listener();
    let mut client = connector.connect();
    tasks.spawn_server(&plan, listener, app);
    let report = tasks.run_plan(&plan);

    client.write(b"GET /slow HTTP/1.1\r\nhost: t\r\n\r\n");
    tasks.run(Order::Spawned);
    assert_eq!(entered.load(Ordering::SeqCst), 1);
    shutdown.trigger(Reason::Signal(15));
    tasks.run(Order::Spawned);
    assert_eq!(shutdown.phase(), Phase::Draining);

    // The second SIGTERM, as the signal listener delivers it: a force.
    shutdown.force(Reason::Signal(15));
    tasks.run(order);
    let report = report.take().expect("the sequence ended");

    assert_eq!(report.status, Status::Forced, "{report}");
    assert_eq!(report.forced_by, Some(ForcedBy::Requested), "{report}");
    // The connection and its request were in flight when the force came.
    assert_eq!(report.drain.left, 2, "{report}");
    let names = &report.drain.still_in_flight;
    assert!(
        names.iter().any(|n| n.starts_with("GET /slow  ")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("http connection from ") && n.ends_with(": 1 request in flight")),
        "{names:?}"
    );
    assert!(
        client.read_to_end().is_empty(),
        "no response for the cut request"
    );
}

#[test]
fn a_second_signal_reports_what_it_cut_connections_first() {
    a_second_signal_reports_what_it_cut(Order::ConnectionsFirst);
}

#[test]
fn a_second_signal_reports_what_it_cut_sequence_first() {
    a_second_signal_reports_what_it_cut(Order::SequenceFirst);
}

/// Nothing that tells a client to come back (the `503` for a request already in a keep-alive
/// connection's socket, its `Connection: close`, the end of the connection) goes out before
/// the listener is closed, even when the connections' tasks run before the accept loop: a
/// client that reconnects is refused, never left in the backlog of a listener about to close
/// (the kernel resets those).
#[test]
fn nothing_tells_a_client_to_come_back_before_the_listener_is_closed() {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(ShutdownLayer::new(&shutdown));
    let tasks = Tasks::new();
    let (listener, connector) = mem_listener();
    let mut client = connector.connect();
    tasks.spawn_server(&plan, listener, app);
    let report = tasks.run_plan(&plan);
    client.write(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
    tasks.run(Order::Spawned);
    let first = String::from_utf8(client.read_to_end()).unwrap();
    assert!(first.starts_with("HTTP/1.1 200 "), "{first}");

    // The next request is in the socket, unread, when admissions close.
    client.write(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
    connector.watch(&shutdown);
    shutdown.trigger(Reason::requested());
    shutdown.close();
    tasks.run(Order::ConnectionsFirst);
    assert!(connector.is_closed());
    assert_eq!(
        connector.early_writes(),
        0,
        "written before the listener closed"
    );
    let second = String::from_utf8(client.read_to_end()).unwrap();
    assert!(second.starts_with("HTTP/1.1 503 "), "{second}");
    assert!(second.contains("connection: close\r\n"), "{second}");
    assert_eq!(
        report.take().expect("the sequence ended").status,
        Status::Completed
    );
}

/// A listener whose every accept fails with `EMFILE` (out of file descriptors): the server
/// backs off (up to a second between tries) instead of spinning, and still sees the close
/// at once while it waits. On the virtual clock: ten seconds of failing accepts, then the
/// close.
#[test]
fn a_permanent_accept_error_neither_spins_nor_hides_the_close() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let accepts = Arc::new(AtomicUsize::new(0));
    let listener = manual::FailingListener {
        accepts: accepts.clone(),
        error: || io::Error::from_raw_os_error(24),
        port: 8080,
    };
    let app = Router::new().route("/", get(|| async { "hello" }));
    let server = manual::virtual_server(&runtime, &plan);
    let stats = server.stats();
    let (closed_at, returned_at) = runtime.block_on({
        let runtime = runtime.clone();
        let shutdown = shutdown.clone();
        async move {
            let served = winddown_core::runtime::Runtime::spawn(
                &runtime,
                Box::pin(async move {
                    let _ = server.serve(listener, app).await;
                }),
            );
            winddown_core::runtime::Runtime::sleep(&runtime, Duration::from_secs(10)).await;
            shutdown.trigger(Reason::requested());
            shutdown.close();
            let closed_at = winddown_core::runtime::Runtime::now(&runtime);
            served.await;
            (closed_at, winddown_core::runtime::Runtime::now(&runtime))
        }
    });
    let tries = accepts.load(Ordering::SeqCst);
    // Backing off up to a second: a dozen or two tries in ten seconds, not a thousand.
    assert!((5..=25).contains(&tries), "{tries} accepts in 10 s");
    assert_eq!(returned_at, closed_at, "the close waited for the back-off");
    let counts = stats.snapshot().to_string();
    assert!(counts.contains(&format!("{tries} at accept")), "{counts}");
}

/// Connection errors at accept (a peer that reset before it was accepted) are skipped at once,
/// without a back-off: the next good connection is accepted on the same instant.
#[test]
fn a_connection_reset_before_accept_is_skipped_at_once() {
    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let accepts = Arc::new(AtomicUsize::new(0));
    let listener = manual::FailingListener {
        accepts: accepts.clone(),
        error: || io::ErrorKind::ConnectionReset.into(),
        port: 8082,
    };
    let app = Router::new().route("/", get(|| async { "hello" }));
    let server = manual::virtual_server(&runtime, &plan);
    let at = runtime.block_on({
        let runtime = runtime.clone();
        async move {
            let served = winddown_core::runtime::Runtime::spawn(
                &runtime,
                Box::pin(async move {
                    let _ = server.serve(listener, app).await;
                }),
            );
            // Let it run for a while without moving the clock (yielding keeps this task
            // runnable, so the virtual clock stands still).
            for _ in 0..10_000 {
                futures_lite::future::yield_now().await;
            }
            let at = winddown_core::runtime::Runtime::now(&runtime);
            shutdown.trigger(Reason::requested());
            shutdown.close();
            served.await;
            at
        }
    });
    assert_eq!(at, Duration::ZERO);
    let tries = accepts.load(Ordering::SeqCst);
    assert!(
        tries >= 1000,
        "{tries} accepts: reset connections were waited on"
    );
}

/// With the `log` feature, an accept error that backs off is an error-level event under the
/// target `winddown::http`, naming the listener, the error and the wait.
#[cfg(feature = "log")]
#[test]
fn accept_errors_are_logged() {
    use std::sync::Mutex;

    struct Capture(Mutex<Vec<(log::Level, String, String)>>);
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            self.0.lock().unwrap().push((
                record.level(),
                record.target().to_owned(),
                record.args().to_string(),
            ));
        }
        fn flush(&self) {}
    }
    static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));
    log::set_logger(&CAPTURE).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);

    let runtime = VirtualRuntime::new();
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let listener = manual::FailingListener {
        accepts: Arc::new(AtomicUsize::new(0)),
        error: || io::Error::from_raw_os_error(24),
        port: 8081,
    };
    let app = Router::new().route("/", get(|| async { "hello" }));
    let server = manual::virtual_server(&runtime, &plan);
    runtime.block_on({
        let runtime = runtime.clone();
        async move {
            let served = winddown_core::runtime::Runtime::spawn(
                &runtime,
                Box::pin(async move {
                    let _ = server.serve(listener, app).await;
                }),
            );
            winddown_core::runtime::Runtime::sleep(&runtime, Duration::from_millis(15)).await;
            shutdown.trigger(Reason::requested());
            shutdown.close();
            served.await;
        }
    });
    // Other tests of this binary log too: this one's listener is on port 8081.
    let records: Vec<_> = CAPTURE
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, message)| message.starts_with("http 127.0.0.1:8081: "))
        .cloned()
        .collect();
    let first = records.first().expect("an event of the server");
    assert_eq!(first.0, log::Level::Error, "{records:?}");
    assert_eq!(first.1, "winddown::http", "{records:?}");
    assert!(
        first.2.starts_with("http 127.0.0.1:8081: accept error: ")
            && first.2.ends_with("(next try in 10ms)"),
        "{records:?}"
    );
}
