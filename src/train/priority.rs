//! CPU priority of background training started from the workbench.
//!
//! On a laptop with two cores, a training job keeps every core busy and the window (whose
//! software renderer also needs the CPU) stutters. A job started from the GUI therefore lowers
//! the priority of its own thread and of the compute pool (rayon's global pool, which Burn's
//! `flex` backend uses): the job still gets every idle cycle, the window gets the CPU first.
//! On Linux each such thread runs under the `SCHED_IDLE` policy (it gets a core only when no
//! normal thread wants it; threads it starts inherit this) and, should that policy be refused,
//! at `nice` +10; elsewhere nothing changes. The CLI keeps full priority.
//!
//! Measured under Xvfb with Mesa's llvmpipe while a CRNN trains (README, "Train"): with nice +10
//! alone the window's frames took p95 31 ms on two cores; `SCHED_IDLE` is the stronger setting.

/// How much lower than normal (Linux nice value).
pub const NICE: i32 = 10;

/// Lowers the CPU priority of the calling thread only (Linux: `SCHED_IDLE`, and nice +10 in
/// case the policy is refused); a no-op elsewhere or on error. Returns whether the thread now
/// runs under `SCHED_IDLE` (a sandbox may refuse the policy; nice still applies then).
pub fn lower_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; `param` outlives the call.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        // Relative to where the thread already is (a job started under `nice` goes lower still).
        let base = this_thread_nice().unwrap_or(0);
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, (base + NICE).min(19));
        let param = libc::sched_param { sched_priority: 0 };
        return libc::sched_setscheduler(tid as libc::pid_t, libc::SCHED_IDLE, &param) == 0;
    }
    #[allow(unreachable_code)]
    false
}

/// Whether the calling thread runs under `SCHED_IDLE` (Linux), for tests and diagnostics.
pub fn this_thread_is_idle_class() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain syscall on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        return libc::sched_getscheduler(tid) == libc::SCHED_IDLE;
    }
    #[allow(unreachable_code)]
    false
}

/// Builds rayon's global pool with lowered-priority threads. Does nothing if the pool already
/// exists (the first user decides); returns whether this call built it.
pub fn low_priority_compute_pool() -> bool {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("occlab-compute-{i}"))
        .start_handler(|_| {
            lower_this_thread();
        })
        .build_global()
        .is_ok()
}

/// The calling thread's nice value (Linux), for tests and diagnostics.
pub fn this_thread_nice() -> Option<i32> {
    #[cfg(target_os = "linux")]
    // SAFETY: as above.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, tid);
        if *libc::__errno_location() == 0 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_can_lower_only_its_own_priority() {
        let before = super::this_thread_nice();
        let inside = std::thread::spawn(|| {
            let idle = super::lower_this_thread();
            // Where the policy is granted, the thread reports it and the threads it starts
            // inherit it; a sandbox that refuses it still gets nice +10 (checked below).
            assert_eq!(super::this_thread_is_idle_class(), idle);
            let child = std::thread::spawn(super::this_thread_is_idle_class)
                .join()
                .unwrap();
            assert_eq!(
                child, idle,
                "threads started by a lowered thread inherit its policy"
            );
            if cfg!(target_os = "linux") && !idle {
                eprintln!("note: SCHED_IDLE was refused here; the thread runs at nice +10");
            }
            super::this_thread_nice()
        })
        .join()
        .unwrap();
        assert!(
            !super::this_thread_is_idle_class(),
            "the caller is unchanged"
        );
        if let (Some(b), Some(i)) = (before, inside) {
            assert_eq!(i, (b + super::NICE).min(19));
            assert_eq!(
                super::this_thread_nice(),
                Some(b),
                "the caller is unchanged"
            );
        }
    }
}
