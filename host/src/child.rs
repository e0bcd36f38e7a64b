//! Child processes for tests and benchmarks: always killed and reaped, every wait bounded.
//!
//! These helpers panic instead of returning errors: they exist for tests, where a child that
//! hangs or cannot start is a failure to report with its command line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// A child process that is killed and reaped when the guard drops, whatever the test did.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Starts `cmd`, panicking with the command line if it cannot start.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits for the exit, killing the child and panicking past `deadline`.
    pub fn wait(&mut self, deadline: Duration) -> ExitStatus {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > end {
                let _ = self.0.kill();
                panic!("pid {} did not exit within {deadline:?}", self.0.id());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The child's stdout as a channel of lines, read on a thread so the pipe never fills.
    pub fn stdout_lines(&mut self) -> Receiver<String> {
        let out = self.0.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion with captured output, killing it and panicking past `deadline`.
pub fn run(cmd: &mut Command, deadline: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(cmd);
    let out = read_on_thread(child.0.stdout.take().expect("stdout piped"));
    let err = read_on_thread(child.0.stderr.take().expect("stderr piped"));
    let status = child.wait(deadline);
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Reads `pipe` to its end on a thread, so neither pipe of a child can fill and block it.
fn read_on_thread(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}
