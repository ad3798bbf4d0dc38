//! Where the GPU runtime keeps what it learns about the device between starts (issue 14):
//! autotune's choices (which matmul and convolution kernels are fastest on this GPU, for each
//! shape) and the compiled kernels. With the `gpu-fusion` build (Burn's `autotune` and
//! `persistence`) the first start on a GPU tunes each new shape (62 s for a CRNN bench at 32×5
//! on an H200); later starts read the answers back from here (3.3 s for the same bench).
//!
//! cubecl, Burn's GPU layer, would otherwise pick its folder from the working directory
//! (`target/environment` of the outermost Cargo workspace above it, else the user cache), so
//! the same binary would re-tune whenever it is started from another folder. occlab names one
//! folder instead, whatever the working directory:
//!
//! 1. `$OCCLAB_GPU_CACHE` when set;
//! 2. else `$XDG_CACHE_HOME/occlab/gpu`, else `$HOME/.cache/occlab/gpu`.
//!
//! A `cubecl.toml` (or `burn.toml` with a `[cubecl]` section) in the working directory or above
//! still decides everything, as cubecl documents: occlab then leaves the configuration alone.

use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};
use std::path::{Path, PathBuf};

/// The variable that names the folder.
pub const ENV: &str = "OCCLAB_GPU_CACHE";

/// The files through which cubecl reads its configuration (its own names).
const CONFIG_FILES: [&str; 4] = ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"];

/// Where the GPU runtime's cache lives for this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuCache {
    /// occlab's folder.
    Folder(PathBuf),
    /// A configuration file of cubecl's own, which says where (or whether) it caches.
    ConfigFile(PathBuf),
    /// No folder could be named (no `HOME`): cubecl's own default applies.
    CubeclDefault,
}

impl GpuCache {
    /// How `occlab bench` and the training log name it.
    pub fn describe(&self) -> String {
        match self {
            GpuCache::Folder(dir) => dir.display().to_string(),
            GpuCache::ConfigFile(file) => format!("as {} says", file.display()),
            GpuCache::CubeclDefault => "cubecl's default folder".into(),
        }
    }
}

/// Where the cache is for a process started in `cwd` with the environment `var`.
pub fn locate(cwd: &Path, var: impl Fn(&str) -> Option<String>) -> GpuCache {
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        for name in CONFIG_FILES {
            let file = d.join(name);
            if file.is_file() {
                return GpuCache::ConfigFile(file);
            }
        }
        dir = d.parent();
    }
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(dir) = set(ENV) {
        return GpuCache::Folder(PathBuf::from(dir));
    }
    let base = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| Path::new(&h).join(".cache")));
    match base {
        Some(base) => GpuCache::Folder(base.join("occlab").join("gpu")),
        None => GpuCache::CubeclDefault,
    }
}

/// Points cubecl at [`locate`]'s folder. Call before the first GPU device opens; later calls,
/// and calls after cubecl has read its configuration, change nothing and say where it is.
pub fn configure() -> GpuCache {
    static CHOSEN: std::sync::OnceLock<GpuCache> = std::sync::OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let cache = locate(&cwd, |name| std::env::var(name).ok());
            if let GpuCache::Folder(dir) = &cache {
                // A folder that cannot be made costs a re-tune, never the run (cubecl then
                // keeps its results in memory only).
                let _ = std::fs::create_dir_all(dir);
                let mut config = CubeClRuntimeConfig::default().override_from_env();
                config.environment.path = CacheConfig::Directory(dir.clone());
                if !CubeClRuntimeConfig::try_set(config) {
                    return GpuCache::CubeclDefault;
                }
            }
            cache
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_folder_is_named_by_the_variable_then_the_user_cache() {
        let cwd = tempfile::tempdir().unwrap();
        assert_eq!(
            locate(
                cwd.path(),
                env(&[(ENV, "/data/gpu-cache"), ("HOME", "/home/a")])
            ),
            GpuCache::Folder("/data/gpu-cache".into())
        );
        assert_eq!(
            locate(
                cwd.path(),
                env(&[("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/a")])
            ),
            GpuCache::Folder("/xdg/occlab/gpu".into())
        );
        assert_eq!(
            locate(cwd.path(), env(&[(ENV, " "), ("HOME", "/home/a")])),
            GpuCache::Folder("/home/a/.cache/occlab/gpu".into())
        );
        assert_eq!(locate(cwd.path(), env(&[])), GpuCache::CubeclDefault);
    }

    #[test]
    fn a_cubecl_configuration_file_above_the_working_directory_decides() {
        let root = tempfile::tempdir().unwrap();
        let inner = root.path().join("a").join("b");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(root.path().join("cubecl.toml"), "[autotune]\n").unwrap();
        assert_eq!(
            locate(&inner, env(&[(ENV, "/data/gpu-cache")])),
            GpuCache::ConfigFile(root.path().join("cubecl.toml"))
        );
    }
}
