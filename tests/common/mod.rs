//! Shared test helpers: where the real data lives.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared data folder from `OCCLAB_DATA_DIR`. `None` (and a visible SKIPPED line) when the
/// variable is unset; a panic when it is set but the folder does not exist, so a wrong setting
/// fails instead of silently skipping.
pub fn data_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("OCCLAB_DATA_DIR") {
        None => {
            eprintln!(
                "SKIPPED {test}: OCCLAB_DATA_DIR is not set (point it at the shared data folder)"
            );
            None
        }
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "OCCLAB_DATA_DIR={} is not a folder",
                dir.display()
            );
            Some(dir)
        }
    }
}
