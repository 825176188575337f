//! A pseudo-terminal for tests of interactive screens: the binary runs as a session leader whose
//! controlling terminal is the pty, so its `/dev/tty` is the pty and the test reads the screen as a
//! user would see it (escape sequences included) and types into it (answers, Ctrl-C).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    master: File,
    pub child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Starts `cmd` on a new pty (80x24). stdin is the pty too; stdout and stderr stay pipes, so the
    /// test can tell what went to the terminal from what went to the output streams.
    pub fn spawn(mut cmd: Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty fills the two descriptors; the name buffer and termios may be null.
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened and are owned here.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let slave_fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap())).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        drop(slave);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let reader = master.try_clone().unwrap();
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buf = [0u8; 4096];
            // EIO once the child has gone and the slave side is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty { master, child, screen }
    }

    /// Everything written to the terminal so far, escape sequences included.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the screen holds `needle`; panics with the screen after `timeout`.
    pub fn expect(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(start.elapsed() < timeout, "the screen never showed {needle:?}:\n{screen:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text` (a line needs its `\r`; Ctrl-C is `\x03`).
    pub fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// Waits for the child (killing it after `timeout`) and returns its output streams and the
    /// whole screen.
    pub fn finish(mut self, timeout: Duration) -> (Output, String) {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("the program on the pty did not end in {timeout:?}; screen:\n{:?}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let read_all = |stream: Option<&mut dyn Read>| {
            let mut out = Vec::new();
            if let Some(stream) = stream {
                let _ = stream.read_to_end(&mut out);
            }
            out
        };
        let stdout = read_all(self.child.stdout.as_mut().map(|s| s as &mut dyn Read));
        let stderr = read_all(self.child.stderr.as_mut().map(|s| s as &mut dyn Read));
        let status = self.child.wait().unwrap();
        // The reader thread may still be draining the last bytes.
        std::thread::sleep(Duration::from_millis(100));
        (Output { status, stdout, stderr }, self.screen())
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
