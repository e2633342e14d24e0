//! hyper 1 with hyper-util's `GracefulShutdown` and a plain accept loop, as hyper-util's
//! `server_graceful` example: on the signal, drop the listener, `graceful.shutdown()`, give up
//! after 10 s. (The example stops on Ctrl-C only; SIGTERM is added beside it.)

use std::convert::Infallible;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

type Body = BoxBody<Bytes, Infallible>;

async fn handle(request: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let body = match request.uri().path() {
        "/" => Full::new(Bytes::from_static(b"hello\n")).boxed(),
        "/slow" => {
            tokio::time::sleep(winddown_check_reference::slow_ms(request.uri().query())).await;
            Full::new(Bytes::from_static(b"ok\n")).boxed()
        }
        "/upload" if request.method() == hyper::Method::POST => {
            match request.into_body().collect().await {
                Ok(body) => Full::new(Bytes::from(format!(
                    "got {} bytes\n",
                    body.to_bytes().len()
                )))
                .boxed(),
                Err(_) => {
                    let mut response = Response::new(Full::new(Bytes::new()).boxed());
                    *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
                    return Ok(response);
                }
            }
        }
        "/sse" => {
            let ticks = futures_util::stream::unfold(0u64, |count| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let event = Bytes::from(format!("data: tick {count}\n\n"));
                Some((Ok::<_, Infallible>(Frame::data(event)), count + 1))
            });
            let mut response = Response::new(StreamBody::new(ticks).boxed());
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            return Ok(response);
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")).boxed());
            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
            return Ok(response);
        }
    };
    Ok(Response::new(body))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(("127.0.0.1", winddown_check_reference::port())).await?;
    let server = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    let mut terminate = signal(SignalKind::terminate())?;

    loop {
        tokio::select! {
            conn = listener.accept() => {
                let (stream, _peer) = match conn {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("accept error: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let stream = hyper_util::rt::TokioIo::new(Box::pin(stream));
                let conn = server.serve_connection_with_upgrades(stream, hyper::service::service_fn(handle));
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        eprintln!("connection error: {err}");
                    }
                });
            },
            _ = ctrl_c.as_mut() => break,
            _ = terminate.recv() => break,
        }
    }
    drop(listener);

    tokio::select! {
        _ = graceful.shutdown() => {
            eprintln!("Gracefully shutdown!");
        },
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            eprintln!("Waited 10 seconds for graceful shutdown, aborting...");
        }
    }
    Ok(())
}
