//! The handshake and grace scenarios: TLS handshakes that stall, clients that connected just
//! before the close, or sent their last request just before it.
//!
//! The certificate is made in the test (rcgen), never read from the tree; the client is
//! rustls's, over the runtime's socket.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use http::StatusCode;
use hyper::client::conn::http1;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use winddown_core::runtime::BoxFuture;
use winddown_core::{Config, Phase, Reason, Status};
use winddown_http::server::FuturesIo;
use winddown_http::tls::Tls;

use super::{
    answered, h1, is_refusal, read_to_end, rig_set_up, send1, text, write_all, H1Sender, Net, Rig,
    Setup, StdClient, LONG,
};

/// The server's TLS and a client configuration that trusts it: a self-signed certificate for
/// `localhost`, made once per test binary.
fn test_tls() -> &'static (Tls, Arc<ClientConfig>) {
    static TLS: OnceLock<(Tls, Arc<ClientConfig>)> = OnceLock::new();
    TLS.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a test certificate");
        let tls = Tls::from_pem(
            made.cert.pem().as_bytes(),
            made.signing_key.serialize_pem().as_bytes(),
        )
        .expect("the server's TLS");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).expect("a root");
        #[allow(deprecated)] // ring: see `Tls::from_pem`
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        (tls, Arc::new(client))
    })
}

/// A setup with TLS.
fn with_tls(grace: Duration) -> Setup {
    Setup {
        tls: Some(test_tls().0.clone()),
        first_byte_grace: Some(grace),
        ..Setup::default()
    }
}

type TlsIo<N> = FuturesIo<TlsStream<FuturesIo<<N as Net>::Io>>>;

/// A TLS handshake on `io`, as a client.
async fn tls_handshake<N: Net>(io: N::Io) -> std::io::Result<TlsIo<N>> {
    let connector = TlsConnector::from(test_tls().1.clone());
    let name = ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, FuturesIo::new(io)).await?;
    Ok(FuturesIo::new(stream))
}

/// An HTTP/1 client connection over TLS.
async fn h1_tls<N: Net>(io: N::Io) -> (H1Sender, BoxFuture<hyper::Result<()>>) {
    let io = tls_handshake::<N>(io).await.expect("a TLS handshake");
    let (sender, conn) = http1::handshake(io).await.expect("HTTP/1 over TLS");
    (sender, N::spawn(conn))
}

pub(crate) fn config() -> Config {
    Config::builder()
        .drain(LONG)
        .graceful(LONG + LONG)
        .build()
        .unwrap()
}

/// Waits until the server's listener is closed (a connect is refused). The probes it made
/// before are dropped at once: each ends as a connection of its own.
pub(crate) async fn listener_closed<N: Net>(rig: &Rig) {
    while N::connect(rig.addr).await.is_ok() {
        N::sleep(Duration::from_millis(1)).await;
    }
}

/// 23. Two clients stall their TLS handshakes (one sends nothing, one half a ClientHello):
///     another client's HTTPS request is answered meanwhile (the handshakes run in their
///     connections' tasks, not in the accept loop); at the close both are closed at once and
///     counted, while a request in flight over TLS finishes with its `200`.
pub(crate) async fn a_stalled_tls_handshake_stalls_neither_accepts_nor_the_close<N: Net>() {
    let rig = rig_set_up::<N>(config(), false, with_tls(Duration::ZERO)).await;
    let mut silent = N::connect(rig.addr).await.expect("connect");
    let mut half = N::connect(rig.addr).await.expect("connect");
    // A handshake record announcing 512 bytes, and 16 of them.
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00];
    hello.extend_from_slice(&[0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]);
    hello.extend_from_slice(&[0u8; 10]);
    write_all(&mut half, &hello).await.unwrap();
    rig.accepted::<N>(2).await;

    let (mut client, _driver) = h1_tls::<N>(N::connect(rig.addr).await.expect("connect")).await;
    let answer = answered(send1(&mut client, "/").await);
    assert_eq!(
        (answer.status, &answer.body[..]),
        (StatusCode::OK, &b"hello\n"[..])
    );
    let (mut busy, _busy_driver) = h1_tls::<N>(N::connect(rig.addr).await.expect("connect")).await;
    let held = N::spawn(async move { send1(&mut busy, "/hold").await });
    rig.entered.at_least(1).await;

    rig.shutdown.trigger(Reason::requested());
    let (bytes, _) = read_to_end(&mut silent, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));
    let (bytes, _) = read_to_end(&mut half, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));
    // Both closed while the request over TLS is still in flight.
    assert_eq!(rig.shutdown.phase(), Phase::Draining);
    assert!(!rig.shutdown.is_drained());

    rig.release.add();
    let answer = answered(held.await);
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(
        (counts.handshakes, counts.closed_handshaking, counts.cut),
        (4, 2, 0),
        "{counts}"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("4 TLS (2 closed mid-handshake)")),
        "{report}"
    );
}

/// 24. A client that connected just before the close and has sent nothing yet is not closed
///     under its first request: within its first-byte grace the request is read and answered
///     (the layer's `503`, `Connection: close`), and then the connection ends.
pub(crate) async fn a_connection_accepted_just_before_the_close_gets_its_first_byte_grace<
    N: Net,
>() {
    let setup = Setup {
        first_byte_grace: Some(LONG),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let mut late = N::connect(rig.addr).await.expect("connect");
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    write_all(&mut late, b"GET / HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let (bytes, end) = read_to_end(&mut late, Vec::new()).await;
    end.expect("an end of file after the response, not a reset");
    let response = text(&bytes);
    assert!(response.starts_with("HTTP/1.1 503 "), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!((counts.drained, counts.cut), (1, 0), "{counts}");
}

/// 25. A connection that never sends a byte holds the drain only until its first-byte grace
///     ends: then it is closed (an end of file), and counts as closed idle.
pub(crate) async fn a_silent_connection_is_closed_when_its_first_byte_grace_ends<N: Net>() {
    let setup = Setup {
        first_byte_grace: Some(Duration::from_secs(1)),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let mut silent = N::connect(rig.addr).await.expect("connect");
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    // Within its grace: the drain waits for it.
    assert!(!rig.shutdown.is_drained());
    let (bytes, end) = read_to_end(&mut silent, Vec::new()).await;
    assert!(bytes.is_empty(), "{}", text(&bytes));
    end.expect("an end of file, not a reset");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert!(!report.drain.timed_out, "{report}");
    assert!(counts.closed_idle >= 1, "{counts}");
    assert_eq!(counts.cut, 0, "{counts}");
}

/// 26. A TLS client that connected just before the close finishes its handshake within its
///     first-byte grace (not reset in the middle of it), and its request is answered.
pub(crate) async fn a_tls_client_that_connected_just_before_the_close_finishes_its_handshake<
    N: Net,
>() {
    let rig = rig_set_up::<N>(config(), false, with_tls(LONG)).await;
    let late = N::connect(rig.addr).await.expect("connect");
    rig.accepted::<N>(1).await;

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    let (mut client, _driver) = h1_tls::<N>(late).await;
    let answer = answered(send1(&mut client, "/").await);
    assert!(is_refusal(&answer), "{answer:?}");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    // The probes of `listener_closed` that were accepted went through handshakes too.
    assert!(counts.handshakes >= 1, "{counts}");
    assert_eq!((counts.closed_handshaking, counts.cut), (0, 0), "{counts}");
}

/// A blocking HTTPS client (rustls over a std socket).
fn std_tls(
    addr: std::net::SocketAddr,
) -> StdClient<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    let StdClient(socket) = StdClient::connect(addr);
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(test_tls().1.clone(), name).expect("a client");
    StdClient(rustls::StreamOwned::new(connection, socket))
}

/// 27. As 8, over TLS: requests that arrived on idle TLS connections while the server's
///     executor was busy are read and answered with the layer's `503`, not taken for idle
///     connections and closed: a TLS stream's "bytes waiting" asks the socket under it (and
///     the plaintext rustls holds).
pub(crate) fn requests_already_in_a_tls_socket_at_the_close_are_answered<N: Net>() {
    const CONNECTIONS: usize = 10;
    let rig = N::block_on(rig_set_up::<N>(config(), false, with_tls(Duration::ZERO)));
    let mut clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let mut client = std_tls(rig.addr);
            client.send(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
            let answer = client.response();
            assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
            client
        })
        .collect();
    N::block_on(rig.accepted::<N>(CONNECTIONS as u64));

    let blocker = N::block_executor();
    for client in &mut clients {
        client.send(b"GET /work HTTP/1.1\r\nhost: t\r\n\r\n");
    }
    rig.shutdown.trigger(Reason::requested());
    rig.shutdown.close();
    drop(blocker);

    let mut lost = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let (answer, _end) = client.rest();
        let refused = answer.starts_with("HTTP/1.1 503 ")
            && answer
                .to_ascii_lowercase()
                .contains("connection: close\r\n");
        if !refused {
            lost.push((i, answer));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {CONNECTIONS} requests got no 503: {lost:?}",
        lost.len()
    );
    let (report, counts) = N::block_on(rig.finish());
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(counts.drained, CONNECTIONS as u64, "{counts}");
    assert_eq!(counts.unread_at_close, 0, "{counts}");
}

/// 28. A keep-alive connection whose last response went out just before the close is left
///     open for its keep-alive grace: the next request its client sends (a busy client's, one
///     right after the other) is answered (`503`, `Connection: close`), not written into a
///     closed connection.
pub(crate) async fn a_keep_alive_connection_just_used_gets_its_keep_alive_grace<N: Net>() {
    let setup = Setup {
        keep_alive_grace: Some(LONG),
        ..Setup::default()
    };
    let rig = rig_set_up::<N>(config(), false, setup).await;
    let (mut client, driver) = h1::<N>(rig.addr).await.expect("connect");
    let answer = answered(send1(&mut client, "/").await);
    assert_eq!(answer.status, StatusCode::OK);

    rig.shutdown.trigger(Reason::requested());
    listener_closed::<N>(&rig).await;
    let answer = answered(send1(&mut client, "/").await);
    assert!(is_refusal(&answer), "{answer:?}");
    driver
        .await
        .expect("the connection ends cleanly after the 503");
    let (report, counts) = rig.finish().await;
    assert_eq!(report.status, Status::Completed, "{report}");
    assert_eq!(counts.cut, 0, "{counts}");
}
