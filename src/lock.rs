//! Exclusive locks on a sidecar `<file>.lock`, held for a read-decide-call-write sequence.
//!
//! We lock a separate, empty file rather than the JSON itself: the atomic rename swaps the JSON's
//! inode, so a lock on it would protect nothing. Lock files are never deleted (deleting one that
//! another process waits on lets a third lock a new inode at the same path). The lock is a kernel
//! advisory lock on an open descriptor (std `File::lock`), so it dies with the process: SIGKILL
//! leaves nothing stale behind (docs/refresh-and-locking.md). Waits are bounded.
//!
//! The lock file is opened without following a symbolic link (`O_NOFOLLOW`): a link planted at the
//! lock path must not make us create or open a file elsewhere. And like every write, it is refused in a
//! folder another user owns or every user may write to (`cache::check_private_dir`). It is opened
//! non-blocking and must be a regular file: a FIFO or device planted there is refused, not waited on.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a process waits for another one that holds the lock (docs/refresh-and-locking.md).
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The sidecar lock path for a cache file: `<file>.lock`.
pub fn lock_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    file.with_file_name(name)
}

#[derive(Debug)]
pub enum LockError {
    /// The lock file cannot be created or opened (read-only folder, permissions).
    Open {
        path: PathBuf,
        source: io::Error,
    },
    Timeout {
        path: PathBuf,
        waited: Duration,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Open { path, .. } => write!(f, "cannot open lock file {}", path.display()),
            LockError::Timeout { path, waited } => {
                write!(f, "timed out after {} s waiting for lock file {}", waited.as_secs(), path.display())
            }
            LockError::Io { path, .. } => write!(f, "cannot lock {}", path.display()),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Open { source, .. } | LockError::Io { source, .. } => Some(source),
            LockError::Timeout { .. } => None,
        }
    }
}

/// Holds the lock (exclusive, or shared with other shared holders) until dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl LockGuard {
    /// Locks the sidecar of `file` (creating folder and lock file as needed), waiting at most `wait`.
    pub fn acquire(file: &Path, wait: Duration) -> Result<LockGuard, LockError> {
        LockGuard::acquire_as(file, wait, false)
    }

    /// Like `acquire`, but any number of shared holders may hold the lock together; an exclusive
    /// holder waits for all of them, and they for it.
    pub fn acquire_shared(file: &Path, wait: Duration) -> Result<LockGuard, LockError> {
        LockGuard::acquire_as(file, wait, true)
    }

    fn acquire_as(file: &Path, wait: Duration, shared: bool) -> Result<LockGuard, LockError> {
        let path = lock_path(file);
        if let Some(dir) = path.parent() {
            crate::cache::create_private_dir(dir)
                .and_then(|()| crate::cache::check_private_dir(dir))
                .map_err(|source| LockError::Open { path: path.clone(), source })?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NONBLOCK: a FIFO at the lock path must not make the open wait (it is refused below).
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
        }
        let lock_file = options.open(&path).map_err(|source| {
            #[cfg(unix)]
            if source.raw_os_error() == Some(libc::ELOOP) {
                let why = "it is a symbolic link, which is never followed";
                return LockError::Open { path: path.clone(), source: io::Error::other(why) };
            }
            LockError::Open { path: path.clone(), source }
        })?;
        // Only a regular file is a lock file: not a FIFO, a device or a socket someone put there.
        let meta = lock_file.metadata().map_err(|source| LockError::Open { path: path.clone(), source })?;
        if !meta.is_file() {
            let why = format!("it is {}, not a regular file", crate::cache::file_kind(&meta.file_type()));
            return Err(LockError::Open { path, source: io::Error::other(why) });
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let attempt = if shared { lock_file.try_lock_shared() } else { lock_file.try_lock() };
            match attempt {
                Ok(()) => return Ok(LockGuard { file: lock_file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => return Err(LockError::Io { path, source }),
            }
            let waited = start.elapsed();
            if waited >= wait {
                return Err(LockError::Timeout { path, waited });
            }
            std::thread::sleep(pause.min(wait - waited));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_locker_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache/x.json");
        let guard = LockGuard::acquire(&target, LOCK_WAIT).unwrap();
        assert!(dir.path().join("cache/x.json.lock").exists());
        let err = LockGuard::acquire(&target, Duration::from_millis(60)).unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }));
        assert!(err.to_string().contains("x.json.lock"), "{err}");
        drop(guard);
        LockGuard::acquire(&target, Duration::from_millis(60)).unwrap();
        assert!(dir.path().join("cache/x.json.lock").exists(), "lock files are never deleted");
    }

    #[test]
    fn shared_holders_exclude_only_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache/x");
        let short = Duration::from_millis(30);
        let a = LockGuard::acquire_shared(&target, short).unwrap();
        let b = LockGuard::acquire_shared(&target, short).unwrap();
        assert!(matches!(LockGuard::acquire(&target, short), Err(LockError::Timeout { .. })));
        drop((a, b));
        let exclusive = LockGuard::acquire(&target, short).unwrap();
        assert!(matches!(LockGuard::acquire_shared(&target, short), Err(LockError::Timeout { .. })));
        drop(exclusive);
        LockGuard::acquire_shared(&target, short).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_at_the_lock_path_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.json");
        crate::cache::tests::mkfifo(&lock_path(&target));
        let err = LockGuard::acquire(&target, Duration::from_millis(10)).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }));
        let text = crate::error::chain(&err);
        assert!(text.ends_with("x.json.lock: it is a FIFO (named pipe), not a regular file"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_at_the_lock_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cache/x.json");
        std::fs::create_dir(dir.path().join("cache")).unwrap();
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(&planted, dir.path().join("cache/x.json.lock")).unwrap();
        let err = LockGuard::acquire(&target, Duration::from_millis(10)).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }));
        assert!(crate::error::chain(&err).contains("symbolic link"), "{}", crate::error::chain(&err));
        assert!(!planted.exists(), "nothing was created where the link points");
    }
}
