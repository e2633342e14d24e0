//! TLS for the server: rustls (with ring), its handshake run in each connection's task.
//!
//! [`Tls`] is a [`Handshake`]: put it on a listener with
//! [`Listener::with_handshake`](crate::server::Listener::with_handshake) and serve it as any
//! listener. The accept loop only accepts; each connection's handshake runs in the
//! connection's own task, under its guard, so a client that stalls in its handshake (sends
//! nothing, or half a ClientHello) holds neither the other accepts nor the close:
//!
//! - a connection still in its handshake when the listener closes is closed at once, and
//!   counted ([`ConnectionCounts::closed_handshaking`](crate::ConnectionCounts::closed_handshaking)),
//!   unless it was accepted within the [first-byte grace](crate::Server::first_byte_grace)
//!   just before the close: then it may still finish it and send its request, which is
//!   answered (`503` from the layer) before the connection closes;
//! - a handshake that takes longer than the [handshake timeout](crate::Server::handshake_timeout)
//!   (10 s by default) fails;
//! - after the handshake, the connection is served as any other: HTTP/1 or HTTP/2 (the
//!   configuration made here offers both through ALPN), idle connections closed, requests in
//!   flight finished, GOAWAY, the cut.
//!
//! One TLS stream for every runtime: futures-rustls, over smol's and async-std's sockets as
//! they are and over tokio's through a small adapter of this module's own.
//!
//! # Examples
//!
//! On tokio, from PEM files:
//!
#![cfg_attr(feature = "tokio", doc = "```no_run")]
#![cfg_attr(not(feature = "tokio"), doc = "```ignore")]
//! # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
//! use axum::{routing::get, Router};
//! use winddown::http::server::Listener;
//! use winddown::http::tls::Tls;
//! use winddown::http::ShutdownLayer;
//! use winddown::tokio::TokioRuntime;
//! use winddown::{Config, Plan, Shutdown};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let plan = Plan::new(Shutdown::new(), Config::default());
//! let app = Router::new()
//!     .route("/", get(|| async { "hello over TLS" }))
//!     .layer(ShutdownLayer::new(plan.shutdown()));
//! let tls = Tls::from_pem_files("cert.pem", "key.pem")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let server = winddown::http::Server::new(&plan, TokioRuntime::new()).serve(listener.with_handshake(tls), app);
//! let report = winddown::run_until_shutdown(&plan, TokioRuntime::new(), server).await;
//! eprintln!("{report}");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

#[cfg(any(unix, windows))]
use crate::server::OsSocket;
use crate::server::{FuturesIo, Handshake};

/// The ALPN protocols a configuration made here offers: HTTP/2 first, then HTTP/1.1.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS server [`Handshake`] (rustls): the handshake of each connection, in its own task.
/// Cheap to clone (an `Arc` of the configuration).
///
/// [`Tls::from_pem_files`] and [`Tls::from_pem`] make a configuration with rustls's safe
/// defaults (TLS 1.3 and 1.2) on ring's cryptography (no post-quantum key exchange: that
/// needs aws-lc-rs), no client authentication, and ALPN `h2` and `http/1.1`; [`Tls::new`]
/// takes one of your own.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub use winddown_adapters::{run_until_shutdown, smol, tokio}; pub mod http { pub use winddown_http::*; } }
/// use winddown::http::tls::{Tls, TlsError};
///
/// let refused = Tls::from_pem(b"not a certificate", b"not a key").unwrap_err();
/// assert!(matches!(refused, TlsError::NoCertificate));
/// ```
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    config: Arc<ServerConfig>,
}

impl Tls {
    /// With a rustls configuration of your own (client certificates, session tickets, other
    /// ALPN protocols). Offer `h2` in its ALPN list for HTTP/2 over TLS (the configurations
    /// made here offer `h2`, then `http/1.1`).
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Tls {
            acceptor: TlsAcceptor::from(config.clone()),
            config,
        }
    }

    /// From a certificate chain and its private key, in PEM (the first certificate is the
    /// server's, the rest its chain; the key PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// [`TlsError::NoCertificate`] or [`TlsError::NoKey`] when a PEM holds none,
    /// [`TlsError::Pem`] when it cannot be parsed, [`TlsError::Config`] when rustls refuses
    /// the pair (the key does not match, an unsupported key type).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let certs = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(TlsError::Pem)?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = match PrivateKeyDer::from_pem_slice(key) {
            Ok(key) => key,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(TlsError::NoKey),
            Err(err) => return Err(TlsError::Pem(err)),
        };
        Self::from_der(certs, key)
    }

    /// As [`from_pem`](Self::from_pem), reading the two files.
    ///
    /// # Errors
    ///
    /// As [`from_pem`](Self::from_pem); a file that cannot be read is [`TlsError::Read`].
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|err| TlsError::Read(path.display().to_string(), err))
        };
        Self::from_pem(&read(cert_chain.as_ref())?, &read(key.as_ref())?)
    }

    fn from_der(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        if certs.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        // ring, not the process default: which providers are compiled in depends on the
        // whole dependency tree, and with two and none installed rustls panics. rustls 0.23.48
        // deprecates ring's provider for its lack of post-quantum key exchange (that needs
        // aws-lc-rs, a far longer build); for it, make a configuration with aws-lc-rs and
        // pass it to `Tls::new`.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(TlsError::Config)?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Self::new(Arc::new(config)))
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("alpn", &self.config.alpn_protocols.len())
            .finish_non_exhaustive()
    }
}

/// Why a [`Tls`] could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read (its path, and why).
    Read(String, io::Error),
    /// The certificate PEM holds no certificate.
    NoCertificate,
    /// The key PEM holds no private key.
    NoKey,
    /// A PEM could not be parsed.
    Pem(rustls::pki_types::pem::Error),
    /// rustls refused the certificate and key.
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read(path, err) => write!(f, "cannot read {path}: {err}"),
            TlsError::NoCertificate => f.write_str("no certificate in the PEM"),
            TlsError::NoKey => f.write_str("no private key in the PEM"),
            TlsError::Pem(err) => write!(f, "bad PEM: {err}"),
            TlsError::Config(err) => write!(f, "certificate and key refused: {err}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read(_, err) => Some(err),
            TlsError::Config(err) => Some(err),
            _ => None,
        }
    }
}

/// Whether bytes from the peer wait in `stream`: plaintext rustls holds already, or bytes in
/// the socket underneath. The peer's close_notify is its end of file, not bytes waiting.
fn tls_bytes_waiting<S>(
    stream: &mut TlsStream<S>,
    socket: impl Fn(&S) -> Option<bool>,
) -> Option<bool> {
    let (io, connection) = stream.get_mut();
    // Processes the records rustls has read, if any (the stream's next read would), and says
    // how much plaintext they gave. A connection in error cannot tell.
    match connection.process_new_packets() {
        Ok(state) if state.plaintext_bytes_to_read() > 0 => Some(true),
        Ok(_) => socket(io),
        Err(_) => None,
    }
}

// ===== smol, async-std: futures-io sockets =====

#[cfg(any(unix, windows))]
impl<S> Handshake<FuturesIo<S>> for Tls
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + OsSocket + Unpin + Send + 'static,
{
    type Io = FuturesIo<TlsStream<S>>;

    async fn handshake(&self, io: FuturesIo<S>) -> io::Result<Self::Io> {
        let stream = self.acceptor.accept(io.into_inner()).await?;
        Ok(FuturesIo::new(stream))
    }

    fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
        tls_bytes_waiting(io.get_mut(), crate::server::bytes_waiting_in)
    }
}

// ===== tokio =====

#[cfg(feature = "tokio")]
mod tokio_socket {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_rustls::server::TlsStream;
    use hyper_util::rt::TokioIo;
    use pin_project_lite::pin_project;

    use super::{tls_bytes_waiting, Tls};
    use crate::server::{FuturesIo, Handshake};

    pin_project! {
        /// A tokio socket as a `futures-io` one, for the TLS stream over it (the
        /// [`Handshake`] of [`Tls`] on tokio's `TcpListener`).
        #[derive(Debug)]
        pub struct TokioSocket<S> {
            #[pin]
            inner: S,
        }
    }

    impl<S> TokioSocket<S> {
        /// The socket.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }
    }

    impl<S: tokio::io::AsyncRead> futures_io::AsyncRead for TokioSocket<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let mut buf = tokio::io::ReadBuf::new(buf);
            std::task::ready!(self.project().inner.poll_read(cx, &mut buf))?;
            Poll::Ready(Ok(buf.filled().len()))
        }
    }

    impl<S: tokio::io::AsyncWrite> futures_io::AsyncWrite for TokioSocket<S> {
        crate::server::forward_write!(poll_close => poll_shutdown);
    }

    #[cfg(any(unix, windows))]
    impl<S> Handshake<TokioIo<S>> for Tls
    where
        S: tokio::io::AsyncRead
            + tokio::io::AsyncWrite
            + crate::server::OsSocket
            + Unpin
            + Send
            + 'static,
    {
        type Io = FuturesIo<TlsStream<TokioSocket<S>>>;

        async fn handshake(&self, io: TokioIo<S>) -> io::Result<Self::Io> {
            let socket = TokioSocket {
                inner: io.into_inner(),
            };
            let stream = self.acceptor.accept(socket).await?;
            Ok(FuturesIo::new(stream))
        }

        fn bytes_waiting(io: &mut Self::Io) -> Option<bool> {
            tls_bytes_waiting(io.get_mut(), |socket: &TokioSocket<S>| {
                crate::server::bytes_waiting_in(socket.get_ref())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate")
    }

    #[test]
    fn a_certificate_and_its_key_make_a_configuration_with_alpn() {
        let made = made();
        let tls = Tls::from_pem(
            made.cert.pem().as_bytes(),
            made.signing_key.serialize_pem().as_bytes(),
        )
        .expect("a configuration");
        assert_eq!(
            tls.config().alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn what_is_missing_or_wrong_is_said_clearly() {
        let (one, other) = (made(), made());
        let cert = one.cert.pem();
        let no_key = Tls::from_pem(cert.as_bytes(), b"").unwrap_err();
        assert!(matches!(no_key, TlsError::NoKey), "{no_key}");
        let wrong_key = Tls::from_pem(
            cert.as_bytes(),
            other.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(wrong_key, TlsError::Config(_)), "{wrong_key}");
        let missing =
            Tls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("cannot read /nonexistent/cert.pem: "),
            "{missing}"
        );
    }
}
