//! Spawning and supervising one Lambda binary against a [`FakeApi`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fake_api::{FakeApi, Signal};

/// Per-binary log file under the log dir; children append stdout and stderr.
pub struct Log {
    pub path: PathBuf,
    file: File,
}

impl Log {
    /// Creates (truncates) `<dir>/<name>.<mode>.log`.
    pub fn create(dir: &Path, name: &str, mode: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.{mode}.log"));
        File::create(&path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Self { path, file })
    }

    pub fn banner(&mut self, text: &str) {
        let _ = writeln!(self.file, "===== {text} =====");
    }
}

/// Builds the command: the inherited environment plus what Lambda sets.
pub fn command(path: &Path, name: &str, api: SocketAddr, log: &Log) -> std::io::Result<Command> {
    let mut cmd = Command::new(path);
    cmd.env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2025/01/01/[$LATEST]00000000000000000000000000bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        // Sequential invocations, like a real 1-concurrency sandbox.
        .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
        .stdin(Stdio::null())
        .stdout(log.file.try_clone()?)
        .stderr(log.file.try_clone()?);
    Ok(cmd)
}

/// Spawns `cmd`, returning the instant taken immediately before `spawn()`.
/// Everything that can be prepared (env, file handles) is prepared before the
/// clock starts; `spawn` itself (fork/exec) is part of a cold start.
pub fn spawn_timed(cmd: &mut Command) -> std::io::Result<(Child, Instant)> {
    let t0 = Instant::now();
    let child = cmd.spawn()?;
    Ok((child, t0))
}

/// Why a run produced no measurement.
pub enum RunError {
    Exited(String),
    InitError(String),
    Timeout(Duration),
    Io(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Exited(s) => write!(f, "exited early ({s})"),
            RunError::InitError(s) => write!(f, "posted init/error: {s}"),
            RunError::Timeout(d) => write!(f, "timed out after {}s", d.as_secs()),
            RunError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// Waits for a signal accepted by `want`, failing if the child exits, posts
/// `init/error`, or `timeout` passes. The child is polled for exit every
/// 20 ms; that poll never delays signal delivery (which wakes us directly).
pub async fn wait_for(
    api: &mut FakeApi,
    child: &mut Child,
    timeout: Duration,
    want: impl Fn(&Signal) -> bool,
) -> Result<Signal, RunError> {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            sig = api.signals.recv() => match sig {
                Some(Signal::InitError(body)) => return Err(RunError::InitError(body)),
                Some(s) if want(&s) => return Ok(s),
                Some(_) => {}
                None => return Err(RunError::Exited("fake API stopped".into())),
            },
            _ = poll.tick() => {
                if let Some(status) = child.try_wait().map_err(RunError::Io)? {
                    return Err(RunError::Exited(status.to_string()));
                }
            }
            _ = &mut deadline => return Err(RunError::Timeout(timeout)),
        }
    }
}

/// SIGKILL and reap.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `VmHWM` and `VmRSS` of a live process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
