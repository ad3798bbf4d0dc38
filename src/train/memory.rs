//! The C allocator's settings for training on the CPU.
//!
//! A train step on flex allocates and frees tensors of tens of MB many times (im2col matrices,
//! activations, gradients). glibc's `malloc` serves every block above its mmap threshold with a
//! fresh `mmap` and returns it to the kernel on `free`, so each such tensor costs page faults on
//! first touch, every step, and freed memory at the top of the heap is trimmed back as well.
//! [`keep_freed_memory`] turns both off: large blocks come from the heap and freed memory stays
//! with the process for the next step. Measured on 2 cores (docs/PERFORMANCE.md): CRNN step
//! −5 to −7 %, CNN step −10 %, peak memory +3 %.

/// Tells glibc's allocator to serve large blocks from the heap and never give freed memory
/// back (see the module documentation). Process-wide; call it once at start-up, before training.
/// Does nothing on other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time, and
    // both parameters accept these values (0 mmapped blocks; a trim threshold of i32::MAX).
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
