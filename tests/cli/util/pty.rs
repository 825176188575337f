//! A pseudo-terminal for tests that need a real one: `/dev/tty` for prompts (the child gets the
//! pty as its controlling terminal: setsid, then TIOCSCTTY on its stdin), or a stdout that is a
//! terminal. A thread copies everything the child shows into a buffer the test reads as "the screen".

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Pty {
    master: File,
    screen: Arc<Mutex<Vec<u8>>>,
}

/// Where the pty is wired in the child.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// stdin is the pty and it is the controlling terminal (`/dev/tty`); stdout and stderr piped.
    ControllingTerminal,
    /// stdout is the pty; stdin null, stderr piped; no controlling terminal.
    Stdout,
}

/// Starts `cmd` on a new pty.
pub fn spawn(cmd: &mut Command, wire: Wire) -> (Pty, Child) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds into the pointers; the other arguments may be null.
    let rc =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let slave = File::from(slave);
    match wire {
        Wire::ControllingTerminal => {
            cmd.stdin(Stdio::from(slave.try_clone().unwrap())).stdout(Stdio::piped()).stderr(Stdio::piped());
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Wire::Stdout => {
            cmd.stdin(Stdio::null()).stdout(Stdio::from(slave.try_clone().unwrap())).stderr(Stdio::piped());
        }
    }
    let child = cmd.spawn().expect("spawn on the pty");
    // The child holds the slave now: once it exits, reading the master ends (EIO).
    drop(slave);
    let screen = Arc::new(Mutex::new(Vec::new()));
    let (mut reader, copy) = (master.try_clone().unwrap(), screen.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            copy.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (Pty { master, screen }, child)
}

impl Pty {
    /// Everything shown so far, with the terminal's `\r\n` turned back into `\n`.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).replace("\r\n", "\n")
    }

    /// Waits until the screen holds `text` after what was shown up to `from` (byte offset of
    /// `screen()`); returns the new offset, past `text`. Panics with the screen after 30 s.
    #[track_caller]
    pub fn expect(&self, from: usize, text: &str) -> usize {
        let mut found = None;
        let ok = super::wait_for(Duration::from_secs(30), || {
            let screen = self.screen();
            found = screen.get(from..).and_then(|s| s.find(text)).map(|i| from + i + text.len());
            found.is_some()
        });
        assert!(ok, "the screen never showed {text:?}:\n{}", self.screen());
        found.unwrap()
    }

    /// Everything shown so far, byte for byte (`\r`, escape sequences and all), to check what is
    /// rewritten in place.
    pub fn raw_screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Types raw bytes: `"\x03"` is Ctrl-C, `"\x04"` Ctrl-D.
    pub fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Types a line, as a person would (the terminal echoes it).
    pub fn type_line(&mut self, line: &str) {
        self.master.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.master.flush().unwrap();
    }
}

/// Waits for `child` (killing it after `timeout`, then failing) and returns its output.
#[track_caller]
pub fn finish(mut child: Child, pty: &Pty, timeout: Duration) -> std::process::Output {
    let ended = super::wait_for(timeout, || child.try_wait().unwrap().is_some());
    if !ended {
        let _ = child.kill();
        panic!("the program on the pty did not end in {timeout:?}; screen:\n{}", pty.screen());
    }
    let out = child.wait_with_output().unwrap();
    // The copying thread may still be draining the last bytes.
    std::thread::sleep(Duration::from_millis(100));
    out
}
