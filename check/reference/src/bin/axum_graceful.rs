//! axum 0.8 as its docs show: `axum::serve(listener, app).with_graceful_shutdown(signal)`,
//! the signal future from axum's `graceful-shutdown` example (Ctrl-C or SIGTERM).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, Stream};
use tokio::net::TcpListener;
use tokio::signal;

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/slow",
            get(|RawQuery(query): RawQuery| async move {
                tokio::time::sleep(winddown_check_reference::slow_ms(query.as_deref())).await;
                "ok\n"
            }),
        )
        .route("/sse", get(|| async { Sse::new(ticks()) }))
        .route(
            "/upload",
            post(|body: Bytes| async move { format!("got {} bytes\n", body.len()) }),
        );
    let addr = ("127.0.0.1", winddown_check_reference::port());
    let listener = TcpListener::bind(addr).await.unwrap();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .unwrap();
}

/// An event every 100 ms, forever.
fn ticks() -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(0u64, |count| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((
            Ok(Event::default().data(format!("tick {count}"))),
            count + 1,
        ))
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        signal::ctrl_c()
            .await
            .expect("failed to install Ctrl+C handler");
    };
    let terminate = async {
        signal::unix::signal(signal::unix::SignalKind::terminate())
            .expect("failed to install signal handler")
            .recv()
            .await;
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
