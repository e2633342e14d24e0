//! Uploads at the close: a request body still arriving when the upload grace ends stops the
//! connection's reads; one that ends within the grace, or has all arrived, is answered.

use std::time::Duration;

use futures_lite::future;
use winddown_core::{Reason, Status};

use super::tls::{config, listener_closed};
use super::{read_some, read_to_end, rig_set_up, text, write_all, Net, Setup, LONG};

/// What the uploads declare: more than the tests ever send, for the slow one.
const DECLARED: usize = 1 << 20;

fn head(path: &str, length: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nhost: t\r\ncontent-length: {length}\r\n\r\n")
}

/// 29. A slow upload in flight at the close (64 bytes every 20 ms of a declared 1 MiB) holds
///     the stop only until its upload grace ends: then the bytes that still arrive end the
///     connection's reads, the handler sees an incomplete body (`400`), and the connection
///     closes, counted as an upload cut, neither drained nor cut at the drain deadline.
pub(crate) async fn a_slow_upload_at_the_close_ends_when_its_upload_grace_does<N: Net>() {
    let setup = Setup {
        upload_grace: Some(Some(Duration::from_millis(200))),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(&mut client, head("/upload", DECLARED).as_bytes())
        .await
        .unwrap();
    write_all(&mut client, &[b'x'; 64]).await.unwrap();
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    // The client trickles on until the server answers or goes (at most ten seconds' worth,
    // the drain deadline: then the cut ends it).
    let mut seen = Vec::new();
    for _ in 0..(DECLARED / 64) {
        if write_all(&mut client, &[b'x'; 64]).await.is_err() {
            break;
        }
        let tick = async {
            N::sleep(Duration::from_millis(20)).await;
            None
        };
        match future::or(async { Some(read_some(&mut client).await) }, tick).await {
            None => continue,
            Some(Ok(chunk)) if !chunk.is_empty() => {
                seen = read_to_end(&mut client, chunk).await.0;
                break;
            }
            Some(_) => break,
        }
    }
    let response = text(&seen);
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 400 "),
        "{response}"
    );
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out, "{report}");
    assert_eq!((counts.uploads_cut, counts.cut), (1, 0), "{counts}");
}

/// 30. An upload whose last bytes arrive within its upload grace after the close is read to
///     its end and answered `200` (`Connection: close`), counted as drained.
pub(crate) async fn an_upload_that_ends_within_its_grace_is_answered<N: Net>() {
    let setup = Setup {
        upload_grace: Some(Some(LONG)),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(&mut client, head("/upload", 128).as_bytes())
        .await
        .unwrap();
    write_all(&mut client, &[b'x'; 64]).await.unwrap();
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    write_all(&mut client, &[b'x'; 64]).await.unwrap();
    let (bytes, end) = read_to_end(&mut client, Vec::new()).await;
    end.expect("an end of file after the response, not a reset");
    let response = text(&bytes);
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    assert!(response.ends_with("got 128 bytes\n"), "{response}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!((counts.uploads_cut, counts.cut), (0, 0), "{counts}");
    assert!(counts.drained >= 1, "{counts}");
}

/// 31. A request whose body has all arrived is not cut by the upload grace, however long its
///     handler takes: with a zero grace, a handler that holds after reading its body past the
///     close still sends its `200`.
pub(crate) async fn a_request_whose_body_has_arrived_outlasts_the_upload_grace<N: Net>() {
    let setup = Setup {
        upload_grace: Some(Some(Duration::ZERO)),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let mut client = N::connect(rig.addr).await.expect("connect");
    write_all(&mut client, head("/upload?hold", 128).as_bytes())
        .await
        .unwrap();
    write_all(&mut client, &[b'x'; 128]).await.unwrap();
    // Entered, and the body read.
    rig.entered.at_least(2).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    // The grace (zero) is over as soon as the connection's task sees the close; this only
    // gives it the time to, so that the test cannot pass by answering before it.
    N::sleep(Duration::from_millis(100)).await;
    rig.release.add();
    let (bytes, end) = read_to_end(&mut client, Vec::new()).await;
    end.expect("an end of file after the response, not a reset");
    let response = text(&bytes);
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(response.ends_with("got 128 bytes\n"), "{response}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!((counts.uploads_cut, counts.cut), (0, 0), "{counts}");
}
