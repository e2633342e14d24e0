//! The server under test: a command the checker starts, a process it attaches to, or (in
//! tests) a server in the same process; how to signal it, kill it and see it exit.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::http1;

/// How many of the target's last output lines are kept for error messages.
const KEEP_LINES: usize = 20;

/// How the target's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// When the checker saw it end.
    pub at: Instant,
    /// Its exit code, if it exited (and the checker can know: not in attach mode).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
}

/// Why the target could not be started or reached: the checker exits 2 with this line.
#[derive(Debug)]
pub enum StartError {
    /// The command could not be started.
    Spawn(String, std::io::Error),
    /// The command exited before it was ready.
    DiedOnStart {
        /// How it exited.
        exit: String,
        /// Its last line of output, if any.
        last: Option<String>,
    },
    /// The target exited after it was ready, before the signal was due.
    DiedBeforeSignal {
        /// How it exited.
        exit: String,
        /// How long after it was ready.
        after: Duration,
    },
    /// The port never accepted a connection within the start timeout.
    NeverOpened(SocketAddr, Duration, bool),
    /// The port accepted connections but what came back was not HTTP.
    NotHttp(SocketAddr, String),
    /// The ready path never answered 200.
    NeverReady(SocketAddr, String, u16, Duration),
    /// Something else about the setup: a bad option, a pid that is not running.
    Setup(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(command, err) => write!(f, "cannot start `{command}`: {err}"),
            StartError::DiedOnStart { exit, last } => {
                write!(f, "the target {exit} before it was ready")?;
                if let Some(last) = last {
                    write!(f, "; its last line: {last}")?;
                }
                Ok(())
            }
            StartError::DiedBeforeSignal { exit, after } => write!(
                f,
                "the target {exit} {:.2} s after it was ready, before the signal (did the checker's clients crash it?)",
                after.as_secs_f64()
            ),
            StartError::NeverOpened(addr, timeout, placeholder) => {
                write!(
                    f,
                    "nothing accepted connections on {addr} within {} s",
                    timeout.as_secs_f64()
                )?;
                if !placeholder {
                    write!(f, " (no {{port}} in the command's arguments: it was given only in $PORT)")?;
                }
                Ok(())
            }
            StartError::NotHttp(addr, why) => write!(f, "{addr} does not speak HTTP/1.1: {why}"),
            StartError::NeverReady(addr, path, status, timeout) => write!(
                f,
                "{addr}{path} still answered {status} after {} s (not ready; --ready-path '' if it never will be)",
                timeout.as_secs_f64()
            ),
            StartError::Setup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StartError {}

/// Sends the stop signal to an in-process target, or kills it.
pub type Hook = Box<dyn Fn() + Send + Sync>;

enum Control {
    /// A process: its pid, and whether the checker started it in its own process group.
    Process { pid: Pid, group: bool },
    /// A server in this process.
    InProcess { signal: Hook, kill: Hook },
}

/// The server under test.
pub struct Target {
    /// Where it listens.
    pub addr: SocketAddr,
    control: Control,
    exit: watch::Receiver<Option<Exit>>,
    output: Arc<Mutex<VecDeque<String>>>,
    /// Whether the checker can know its exit code.
    pub knows_code: bool,
    /// Whether the port was given in the arguments (not only in `$PORT`).
    placeholder: bool,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("exit", &*self.exit.borrow())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A server in this process (for tests): `signal` asks it to stop, `kill` ends it now;
    /// it reports its end on `exit`.
    pub fn in_process(
        addr: SocketAddr,
        signal: Hook,
        kill: Hook,
        exit: watch::Receiver<Option<Exit>>,
    ) -> Target {
        Target {
            addr,
            control: Control::InProcess { signal, kill },
            exit,
            output: Arc::default(),
            knows_code: true,
            placeholder: true,
        }
    }

    /// Starts `command` with `args`, `{port}` in them replaced by a free port (also given
    /// in `$PORT`), in a process group of its own. `echo` copies its output to stderr.
    pub fn launch(command: &str, args: &[String], echo: bool) -> Result<Target, StartError> {
        let port = free_port()
            .map_err(|err| StartError::Setup(format!("cannot find a free port: {err}")))?;
        let placeholder = args.iter().any(|arg| arg.contains("{port}"));
        let args: Vec<String> = args
            .iter()
            .map(|arg| arg.replace("{port}", &port.to_string()))
            .collect();
        let mut child = tokio::process::Command::new(command)
            .args(&args)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so that a stop past the budget kills its children too.
            .process_group(0)
            .kill_on_drop(false)
            .spawn()
            .map_err(|err| StartError::Spawn(command.to_owned(), err))?;
        let pid = child
            .id()
            .map(|id| Pid::from_raw(id as i32))
            .ok_or_else(|| StartError::Setup("the target exited at once".into()))?;
        let output: Arc<Mutex<VecDeque<String>>> = Arc::default();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(keep_lines(stdout, output.clone(), echo));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(keep_lines(stderr, output.clone(), echo));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            use std::os::unix::process::ExitStatusExt;
            let status = child.wait().await;
            let at = Instant::now();
            let (code, signal) = match status {
                Ok(status) => (status.code(), status.signal()),
                Err(_) => (None, None),
            };
            let _ = tx.send(Some(Exit { at, code, signal }));
        });
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Target {
            addr,
            control: Control::Process { pid, group: true },
            exit,
            output,
            knows_code: true,
            placeholder,
        })
    }

    /// A process the checker did not start, serving on `addr`.
    pub fn attach(addr: SocketAddr, pid: i32) -> Result<Target, StartError> {
        let pid = Pid::from_raw(pid);
        if kill(pid, None).is_err() {
            return Err(StartError::Setup(format!("no process with pid {pid}")));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            // Not our child: poll for its end (a zombie counts as ended).
            loop {
                if kill(pid, None).is_err() || is_zombie(pid) {
                    let _ = tx.send(Some(Exit {
                        at: Instant::now(),
                        code: None,
                        signal: None,
                    }));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Ok(Target {
            addr,
            control: Control::Process { pid, group: false },
            exit,
            output: Arc::default(),
            knows_code: false,
            placeholder: true,
        })
    }

    /// Sends `signal` (the process), or asks the in-process server to stop.
    pub fn signal(&self, signal: Signal) {
        match &self.control {
            Control::Process { pid, .. } => {
                let _ = kill(*pid, signal);
            }
            Control::InProcess { signal, .. } => signal(),
        }
    }

    /// Ends the target now: SIGKILL to its whole process group when the checker started it,
    /// to the process alone when it attached.
    pub fn kill(&self) {
        match &self.control {
            Control::Process { pid, group: true } => {
                let _ = killpg(*pid, Signal::SIGKILL);
            }
            Control::Process { pid, group: false } => {
                let _ = kill(*pid, Signal::SIGKILL);
            }
            Control::InProcess { kill, .. } => kill(),
        }
    }

    /// After the run: whatever is left of the target's process group (children that outlived
    /// it) is killed.
    pub fn clean_up(&self) {
        if let Control::Process { pid, group: true } = &self.control {
            let _ = killpg(*pid, Signal::SIGKILL);
        }
    }

    /// How it ended, if it has.
    pub fn exited(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// A receiver that sees the exit.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.clone()
    }

    /// Waits for the end, at most until `deadline`.
    pub async fn wait_exit(&self, deadline: Instant) -> Option<Exit> {
        let mut exit = self.exit.clone();
        let wait = async move {
            exit.wait_for(|exit| exit.is_some())
                .await
                .ok()
                .and_then(|exit| *exit)
        };
        match tokio::time::timeout_at(deadline.into(), wait).await {
            Ok(Some(exit)) => Some(exit),
            _ => self.exited(),
        }
    }

    /// Its last line of output.
    fn last_line(&self) -> Option<String> {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .cloned()
    }

    /// Waits until the target accepts connections and speaks HTTP, and until `ready_path`
    /// answers 200 (a 404 means it has none). Returns whether it has a ready path.
    pub async fn wait_ready(
        &self,
        ready_path: Option<&str>,
        timeout: Duration,
    ) -> Result<bool, StartError> {
        let placeholder = self.placeholder;
        let deadline = Instant::now() + timeout;
        let probe_path = ready_path.unwrap_or("/");
        let mut last_status = None;
        loop {
            if let Some(exit) = self.exited() {
                return Err(StartError::DiedOnStart {
                    exit: describe_exit(&exit),
                    last: self.last_line(),
                });
            }
            if Instant::now() >= deadline {
                return Err(match last_status {
                    Some(status) => {
                        StartError::NeverReady(self.addr, probe_path.to_owned(), status, timeout)
                    }
                    None => StartError::NeverOpened(self.addr, timeout, placeholder),
                });
            }
            if let Ok(mut conn) = http1::Conn::connect(self.addr).await {
                let request = http1::get(self.addr, probe_path);
                let answer = tokio::time::timeout(Duration::from_secs(10), async {
                    conn.send(&request).await?;
                    let head = conn.read_head(false).await?;
                    conn.read_body(head.framing).await?;
                    Ok::<_, http1::Cut>(head.status)
                })
                .await;
                match answer {
                    Ok(Ok(status)) => {
                        if ready_path.is_none() || status == 200 {
                            return Ok(ready_path.is_some());
                        }
                        if status == 404 {
                            return Ok(false);
                        }
                        last_status = Some(status);
                    }
                    Ok(Err(http1::Cut::Malformed(why))) => {
                        return Err(StartError::NotHttp(self.addr, why));
                    }
                    Ok(Err(_)) => {
                        // Closed or reset before an answer: still starting up, or not HTTP;
                        // try again until the deadline says which.
                    }
                    Err(_) => {
                        return Err(StartError::NotHttp(
                            self.addr,
                            format!("no answer to GET {probe_path} within 10 s"),
                        ));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// "exited with status 3", "was killed by signal 9 (SIGKILL)".
pub fn describe_exit(exit: &Exit) -> String {
    match (exit.code, exit.signal) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        (None, None) => "exited".to_owned(),
    }
}

/// The name of signal number `signal`.
pub fn signal_name(signal: i32) -> &'static str {
    Signal::try_from(signal).map(|s| s.as_str()).unwrap_or("?")
}

/// A port nobody listens on now (bound, read, released).
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

fn is_zombie(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

fn keep_lines<R>(
    pipe: R,
    lines: Arc<Mutex<VecDeque<String>>>,
    echo: bool,
) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
{
    Box::pin(async move {
        let mut reader = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if echo {
                use std::io::Write;
                let _ = writeln!(std::io::stderr().lock(), "target: {line}");
            }
            let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
            if lines.len() == KEEP_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    })
}
