//! Serving the agent: one accept loop over the runtime's listener ([`AgentListener`]).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use winddown_core::Phase;

use super::Agent;

/// How long a connection may stay open after its reply, for haproxy's `agent-send` string to
/// be read (closing a socket with unread input resets the connection instead of closing it).
const LINGER: Duration = Duration::from_secs(1);

/// How much a peer may send before the agent stops reading and closes.
const READ_LIMIT: usize = 4096;

/// How long the accept loop waits after an accept error (out of file descriptors, a connection
/// reset in the backlog) before it accepts again: not spinning, not stalling.
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

/// A listening socket the [`Agent`] can [`serve`](Agent::serve) on: tokio's
/// `tokio::net::TcpListener` (feature `tokio`) or smol's `smol::net::TcpListener` (feature
/// `smol`). Sealed: the listener brings its runtime's spawn and timer.
pub trait AgentListener: sealed::Sealed + Send + 'static {}

pub(super) mod sealed {
    use std::future::Future;
    use std::io;
    use std::net::SocketAddr;
    use std::time::Duration;

    /// What the accept loop and the answers need from a runtime; the loop and the answer are
    /// written once, over these.
    // Public in a private module: nameable as a bound, implementable only in this crate.
    #[allow(unreachable_pub)]
    pub trait Sealed {
        /// An accepted connection.
        type Stream: Send + 'static;

        /// Runs `task` on a task of its own, detached.
        fn spawn(task: impl Future<Output = ()> + Send + 'static);

        /// Sleeps for `wait`, counted from the call.
        fn sleep(wait: Duration) -> impl Future<Output = ()> + Send;

        /// Accepts one connection.
        fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

        /// Writes all of `bytes` on `stream`, then closes its write side.
        fn write_and_close(
            stream: &mut Self::Stream,
            bytes: &[u8],
        ) -> impl Future<Output = io::Result<()>> + Send;

        /// Reads what the peer sent into `buf`: how many bytes, 0 once it has closed.
        fn read(
            stream: &mut Self::Stream,
            buf: &mut [u8],
        ) -> impl Future<Output = io::Result<usize>> + Send;
    }
}

/// Writes `line` on `stream`, closes its write side, reads and drops what the peer sends until
/// it closes (at most [`READ_LIMIT`] bytes, for at most [`LINGER`]), and closes it. Errors end
/// the answer: haproxy resets the connection once it has its line.
async fn answer<L: sealed::Sealed>(mut stream: L::Stream, line: String) {
    let linger = L::sleep(LINGER);
    let answered = async {
        L::write_and_close(&mut stream, line.as_bytes()).await?;
        let mut buf = [0; 512];
        let mut read = 0;
        while read < READ_LIMIT {
            match L::read(&mut stream, &mut buf).await? {
                0 => break,
                n => read += n,
            }
        }
        Ok::<(), io::Error>(())
    };
    let (mut answered, mut linger) = (pin!(answered), pin!(linger));
    poll_fn(|cx| {
        if answered.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        linger.as_mut().poll(cx)
    })
    .await;
}

impl Agent {
    /// Answers haproxy's agent checks on `listener` until the shutdown is over.
    ///
    /// Each accepted connection gets the [`reply`](Agent::reply) for the phase at that moment,
    /// as one line, on a task of its own; the agent then closes its side, reads and drops what
    /// haproxy sent (an `agent-send` string) for up to a second so that the connection ends
    /// with a FIN rather than a reset, and closes. The loop holds no guard, so it never delays
    /// the drain; it ends, closing `listener`, when the shutdown reaches
    /// [`Completed`](Phase::Completed) or [`Forced`](Phase::Forced) (haproxy then keeps the
    /// last word it read, `maint`, until an instance on this port answers `ready`). An accept
    /// error makes it wait 10 ms and accept again. Spawn it, beside the server, once the
    /// server's listener is bound: `ready` tells haproxy to send traffic at once.
    ///
    /// Keep the agent port where only the load balancer can reach it, as any admin port: it
    /// tells whoever asks what the service is doing.
    ///
    /// # Examples
    ///
    /// On smol:
    ///
    #[cfg_attr(feature = "smol", doc = "```")]
    #[cfg_attr(not(feature = "smol"), doc = "```ignore")]
    /// # #[allow(unused_imports)] mod winddown { pub use winddown_core::*; pub mod http { pub use winddown_http::*; } }
    /// use smol::io::AsyncReadExt;
    /// use winddown::http::agent::Agent;
    /// use winddown::Shutdown;
    ///
    /// # smol::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let agent = smol::spawn(Agent::new(&shutdown).serve(listener));
    ///
    /// // What haproxy does every agent-inter:
    /// let mut line = String::new();
    /// smol::net::TcpStream::connect(addr).await?.read_to_string(&mut line).await?;
    /// assert_eq!(line, "ready\n");
    ///
    /// shutdown.close();
    /// let mut line = String::new();
    /// smol::net::TcpStream::connect(addr).await?.read_to_string(&mut line).await?;
    /// assert_eq!(line, "maint\n");
    /// # drop(agent);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// With tokio's listener, when polled outside a tokio runtime (it spawns with
    /// `tokio::spawn`). smol's spawns on smol's global executor and works anywhere.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the listener; connections already accepted are answered on
    /// their own tasks.
    pub fn serve<L: AgentListener>(
        &self,
        listener: L,
    ) -> impl Future<Output = ()> + Send + 'static {
        let agent = self.clone();
        async move {
            let mut over = agent.shutdown.reached(Phase::Completed);
            loop {
                let accepted = {
                    let mut accept = std::pin::pin!(listener.accept());
                    poll_fn(|cx| {
                        if Pin::new(&mut over).poll(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                        accept.as_mut().poll(cx).map(Some)
                    })
                    .await
                };
                match accepted {
                    None => break,
                    // The phase is read now, at the accept: the freshest answer.
                    Some(Ok((stream, _))) => L::spawn(answer::<L>(stream, agent.reply().line())),
                    Some(Err(_)) => L::sleep(ACCEPT_PAUSE).await,
                }
            }
            drop(listener);
        }
    }
}
