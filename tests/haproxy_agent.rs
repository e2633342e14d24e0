//! The haproxy agent (`winddown::http::agent`) on tokio and on smol, over real TCP connections
//! made the way haproxy's agent check makes them: connect, (optionally) send the `agent-send`
//! string, read one line.
//!
//! Every step is driven by the core's own events: the phase moves synchronously (`trigger`,
//! `close`, `advance`) before the next connect, and the plan and the agent's end are awaited.
//! Nothing sleeps; every blocking read has a deadline only so that a hang fails the test.
#![cfg(all(feature = "tower", feature = "tokio", feature = "smol"))]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown as Half, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use winddown::http::agent::Agent;
use winddown::runtime::BoxFuture;
use winddown::{Config, Phase, Plan, Reason, Shutdown};

/// How long any single wait may take before the test fails (a hang guard, not a timing).
const PATIENCE: Duration = Duration::from_secs(30);

/// A runtime the agent serves on.
trait Rt {
    /// Binds a listener on 127.0.0.1, spawns `agent.serve(listener)`; returns the address and
    /// the served future's end.
    fn start(agent: &Agent) -> (SocketAddr, BoxFuture<()>);

    /// Runs a plan to its end on this runtime.
    fn run_plan(plan: &Plan) -> BoxFuture<winddown::Report>;

    /// Waits for `future`, at most [`PATIENCE`].
    fn wait<T: Send + 'static>(future: BoxFuture<T>) -> T;
}

struct Tokio;

fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

impl Rt for Tokio {
    fn start(agent: &Agent) -> (SocketAddr, BoxFuture<()>) {
        let runtime = tokio_runtime();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let served = runtime.spawn(agent.serve(listener));
        (
            addr,
            Box::pin(async move { served.await.expect("the agent task") }),
        )
    }

    fn run_plan(plan: &Plan) -> BoxFuture<winddown::Report> {
        let plan = plan.clone();
        let run = tokio_runtime()
            .spawn(async move { plan.run(winddown::tokio::TokioRuntime::new()).await });
        Box::pin(async move { run.await.expect("the plan task") })
    }

    fn wait<T: Send + 'static>(future: BoxFuture<T>) -> T {
        tokio_runtime()
            .block_on(async { tokio::time::timeout(PATIENCE, future).await })
            .expect("waited too long")
    }
}

struct Smol;

impl Rt for Smol {
    fn start(agent: &Agent) -> (SocketAddr, BoxFuture<()>) {
        let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().unwrap();
        (addr, Box::pin(smol::spawn(agent.serve(listener))))
    }

    fn run_plan(plan: &Plan) -> BoxFuture<winddown::Report> {
        let plan = plan.clone();
        Box::pin(smol::spawn(async move {
            plan.run(winddown::smol::SmolRuntime::new()).await
        }))
    }

    fn wait<T: Send + 'static>(future: BoxFuture<T>) -> T {
        smol::block_on(smol::future::or(async { Some(future.await) }, async {
            smol::Timer::after(PATIENCE).await;
            None
        }))
        .expect("waited too long")
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the agent");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// What haproxy's agent check does: connect, read until the agent closes.
fn ask(addr: SocketAddr) -> String {
    let mut line = String::new();
    connect(addr)
        .read_to_string(&mut line)
        .expect("the agent's line and a clean close");
    line
}

fn answers_each_phase_on_a_new_connection<R: Rt>() {
    let shutdown = Shutdown::new();
    let agent = Agent::new(&shutdown);
    let (addr, _served) = R::start(&agent);
    assert_eq!(ask(addr), "ready\n");
    agent.set_weight(Some(60));
    assert_eq!(ask(addr), "ready 60%\n");
    shutdown.trigger(Reason::Signal(15));
    assert_eq!(ask(addr), "drain\n");
    shutdown.close();
    assert_eq!(ask(addr), "maint\n");
    shutdown.advance(Phase::Draining).unwrap();
    assert_eq!(ask(addr), "maint\n");
}

/// haproxy's `agent-send` writes a string before it reads: the agent reads it, so its close is
/// a FIN after the line, not a reset that can lose the line.
fn reads_the_agent_send_string_and_closes_cleanly<R: Rt>() {
    let agent = Agent::new(&Shutdown::new());
    let (addr, _served) = R::start(&agent);
    for _ in 0..20 {
        let mut stream = connect(addr);
        stream.write_all(b"backend/server1\n").unwrap();
        let mut line = String::new();
        stream
            .read_to_string(&mut line)
            .expect("the line, then a FIN (not a reset)");
        assert_eq!(line, "ready\n");
        // The agent is still reading: our close is the last word, and nothing reset the
        // connection (closing a socket with unread input sends a reset).
        stream
            .shutdown(Half::Write)
            .expect("still connected: the agent did not reset the connection");
        assert_eq!(stream.read(&mut [0; 1]).unwrap(), 0);
        assert!(
            stream.take_error().unwrap().is_none(),
            "the agent reset the connection"
        );
    }
}

/// A peer that reads its line and then keeps the connection open does not hold up the next
/// check: each connection is answered on its own task.
fn a_peer_that_never_closes_does_not_hold_up_the_next<R: Rt>() {
    let agent = Agent::new(&Shutdown::new());
    let (addr, _served) = R::start(&agent);
    let mut silent = connect(addr);
    let mut line = [0; 6];
    silent.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    // `silent` stays open, sending nothing; the next check is answered all the same.
    assert_eq!(ask(addr), "ready\n");
    silent.shutdown(Half::Both).unwrap();
}

/// The agent answers through the whole plan and ends with it: after the plan completes its
/// port is closed (haproxy keeps the `maint` it last read).
fn ends_with_the_plan_and_closes_its_port<R: Rt>() {
    let shutdown = Shutdown::new();
    let plan = Plan::new(shutdown.clone(), Config::default());
    let agent = Agent::new(&shutdown);
    let (addr, served) = R::start(&agent);
    let request = shutdown.enter().expect("admitted");
    let run = R::run_plan(&plan);
    assert_eq!(ask(addr), "ready\n");
    shutdown.trigger(Reason::Signal(15));
    // Held in the drain by `request`: the agent says `maint` while it waits.
    let reached = shutdown.reached(Phase::Draining);
    assert_eq!(R::wait(Box::pin(reached)), Phase::Draining);
    assert_eq!(ask(addr), "maint\n");
    drop(request);
    let report = R::wait(run);
    assert_eq!(report.exit_code(), 0, "{report}");
    R::wait(served);
    let refused = TcpStream::connect(addr).expect_err("the agent's port is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}

fn a_forced_stop_answers_maint_and_ends<R: Rt>() {
    let shutdown = Shutdown::new();
    let agent = Agent::new(&shutdown);
    let (addr, served) = R::start(&agent);
    shutdown.trigger(Reason::Signal(15));
    assert_eq!(ask(addr), "drain\n");
    shutdown.force(Reason::Signal(15));
    R::wait(served);
    assert!(TcpStream::connect(addr).is_err());
    assert_eq!(agent.reply().line(), "maint\n");
}

macro_rules! scenarios {
    ($($runtime:ident: $rt:ty),*) => {$(
        mod $runtime {
            #[test]
            fn answers_each_phase_on_a_new_connection() {
                super::answers_each_phase_on_a_new_connection::<$rt>();
            }

            #[test]
            fn reads_the_agent_send_string_and_closes_cleanly() {
                super::reads_the_agent_send_string_and_closes_cleanly::<$rt>();
            }

            #[test]
            fn a_peer_that_never_closes_does_not_hold_up_the_next() {
                super::a_peer_that_never_closes_does_not_hold_up_the_next::<$rt>();
            }

            #[test]
            fn ends_with_the_plan_and_closes_its_port() {
                super::ends_with_the_plan_and_closes_its_port::<$rt>();
            }

            #[test]
            fn a_forced_stop_answers_maint_and_ends() {
                super::a_forced_stop_answers_maint_and_ends::<$rt>();
            }
        }
    )*};
}

scenarios!(on_tokio: super::Tokio, on_smol: super::Smol);
