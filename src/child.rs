//! Running other programs: without our token, with no terminal to prompt on, bounded in time.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::env;

/// Runs `command` to completion within `timeout` (killed past it), stdin closed, stdout and
/// stderr captured, and `GIT_DISPATCH_TOKEN` removed: only our own processes (the waiter,
/// the follower, the guided setup's commands) inherit the token. `what` names the program
/// in errors.
pub fn output_within(command: &mut Command, timeout: Duration, what: &str) -> Result<Output> {
    let deadline = Instant::now() + timeout;
    let mut child = command
        .env_remove(env::TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout also ends what it started in the background.
        .process_group(0)
        .spawn()
        .with_context(|| format!("running {what}"))?;
    let group = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: signals the process group this function created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    };
    // Drain both pipes while waiting, so a chatty child cannot block on a full pipe.
    let (sender, receiver) = mpsc::channel();
    let drain = |index: usize, pipe: Option<Box<dyn Read + Send>>| {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(1 << 20).read_to_end(&mut bytes);
            }
            let _ = sender.send((index, bytes));
        });
    };
    drain(
        0,
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    drain(
        1,
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {what}"))?
        {
            break status;
        }
        if Instant::now() > deadline {
            kill_group();
            let _ = child.wait();
            bail!("{what} took over {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A background process it started may hold the pipes open: bounded too.
    let mut outputs = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((index, bytes)) => outputs[index] = bytes,
            Err(_) => {
                kill_group();
                bail!(
                    "{what} took over {}s: something it started keeps its output open",
                    timeout.as_secs()
                );
            }
        }
    }
    let [stdout, stderr] = outputs;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// The first line of a child's stderr, credentials removed, for an error message.
pub fn first_error_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    crate::redact::line(text.lines().next().unwrap_or("").trim())
}

/// What `close_from` does to a descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// Closed now (a forked child that goes on without exec).
    Now,
    /// Closed by the exec that follows (between fork and exec, where std's own pipe for
    /// exec errors must stay open until then).
    OnExec,
}

/// Closes, now or on exec, every descriptor from `first` on: the one rule for every
/// process we leave running behind git (the waiter, the follower), so nothing of git's
/// (pipes to receive-pack) keeps git waiting for us. Async-signal-safe: plain syscalls.
pub fn close_from(first: libc::c_int, how: Close) {
    // SAFETY: plain syscalls on descriptors this process owns; the callers use none of
    // them afterwards.
    unsafe {
        #[cfg(target_os = "linux")]
        {
            let flags = match how {
                Close::Now => 0,
                Close::OnExec => libc::CLOSE_RANGE_CLOEXEC,
            };
            if libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                flags,
            ) == 0
            {
                return;
            }
        }
        let max = match libc::sysconf(libc::_SC_OPEN_MAX) {
            n if n > 0 => n.min(65536) as libc::c_int,
            _ => 1024,
        };
        for fd in first..max {
            match how {
                Close::Now => {
                    libc::close(fd);
                }
                Close::OnExec => {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_bounds() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(5),
            "sh",
        )
        .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(first_error_line(&out), "err");
        assert_eq!(out.status.code(), Some(3));
        let err = output_within(
            Command::new("sleep").arg("5"),
            Duration::from_millis(100),
            "sleep",
        )
        .unwrap_err();
        assert!(err.to_string().contains("sleep took over 0s"), "{err}");
    }

    #[test]
    fn a_background_grandchild_holding_the_pipe_is_bounded_too() {
        let started = Instant::now();
        let err = output_within(
            Command::new("sh").args(["-c", "sleep 20 & echo token"]),
            Duration::from_secs(1),
            "sh",
        )
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(err.to_string().contains("keeps its output open"), "{err}");
    }

    #[test]
    fn the_token_is_not_passed_on() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "echo \"${GIT_DISPATCH_TOKEN:-unset}\""])
            .env(env::TOKEN, "secret");
        let out = output_within(&mut command, Duration::from_secs(5), "sh").unwrap();
        assert_eq!(out.stdout, b"unset\n");
    }
}
