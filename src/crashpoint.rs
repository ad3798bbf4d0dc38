//! Named moments at which a test can have the process killed with SIGKILL, to check that what it
//! leaves on disk is always usable (tests/crash.rs, docs/RELIABILITY.md).
//!
//! `OCCLAB_CRASH_AT=NAME:N` kills the process the N-th time it reaches the point NAME (N = 1 when
//! left out). Unset (always, outside those tests), every point is one relaxed atomic load after
//! the first call. The points:
//!
//! | name | where |
//! |---|---|
//! | `train-step` | after an optimizer step, before its metrics line |
//! | `metrics-append` | half-way through appending a metrics line (leaves it torn) |
//! | `checkpoint-model` | after the model is written into `checkpoint/next/`, before the optimizer |
//! | `checkpoint-ready` | after `next/` is renamed `ready/` (committed), before its files move |
//! | `checkpoint-moved` | after the model file moved out of `ready/`, before the optimizer file |

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable that arms a crash point.
pub const ENV: &str = "OCCLAB_CRASH_AT";

static ARMED: OnceLock<Option<(String, usize)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

fn armed() -> Option<&'static (String, usize)> {
    ARMED
        .get_or_init(|| {
            let v = std::env::var(ENV).ok()?;
            let (name, n) = match v.split_once(':') {
                Some((name, n)) => (name.to_string(), n.trim().parse().ok()?),
                None => (v.clone(), 1),
            };
            Some((name, n))
        })
        .as_ref()
}

/// Whether the process is to die at this passage of `name` (the caller may do part of its work
/// first, then call [`kill_now`]).
pub fn due(name: &str) -> bool {
    match armed() {
        Some((armed, n)) if armed == name => HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n,
        _ => false,
    }
}

/// Kills the process here when `name` is due.
pub fn point(name: &str) {
    if due(name) {
        kill_now();
    }
}

/// SIGKILL to this process: no destructor, no flush, no atexit runs.
pub fn kill_now() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}
