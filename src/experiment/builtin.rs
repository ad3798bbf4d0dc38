//! The presets that ship with occlab, built into the binary, so that the defaults of the GUI and
//! the CLI (`presets/quiz/digits-embedded.toml`, the paper tables' presets, …) work from any
//! folder, with no checkout. `build.rs` lists every file under `presets/`; a file added there is
//! built in without naming it anywhere.
//!
//! A preset named by a path that exists on disk is read from disk, as always. A relative path
//! that does not exist but names a built-in file (`presets/quiz/mnist.toml`, or `quiz/mnist.toml`)
//! is read from the binary ([`lookup`]). `occlab presets list` / `occlab presets export DIR`
//! show and copy them.

use std::path::{Component, Path, PathBuf};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin_presets.rs"));
}

/// The folder name the built-in files answer to (`presets/…`).
pub const ROOT: &str = "presets";

/// Every built-in file: its path relative to `presets/` (with `/`), its bytes.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    generated::FILES
}

/// The built-in file's path relative to `presets/` that `path` names, if any: a relative path
/// `presets/<file>` or `<file>` (a leading `./` is allowed). Absolute paths name files on disk only.
pub fn relative_name(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            _ => return None,
        }
    }
    if parts.first().is_some_and(|p| p == ROOT) && parts.len() > 1 {
        parts.remove(0);
    }
    let rel = parts.join("/");
    files().iter().any(|(n, _)| *n == rel).then_some(rel)
}

/// The bytes of the built-in file `path` names (see [`relative_name`]).
pub fn lookup(path: &Path) -> Option<&'static [u8]> {
    let rel = relative_name(path)?;
    files().iter().find(|(n, _)| *n == rel).map(|(_, b)| *b)
}

/// The built-in files directly in the folder `dir` names (`presets/paper-a`, `paper-a`), as
/// paths under `dir`, sorted; `None` when `dir` names no built-in folder.
pub fn list_dir(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut prefix: Vec<String> = Vec::new();
    for c in dir.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => prefix.push(s.to_str()?.to_string()),
            _ => return None,
        }
    }
    if prefix.first().is_some_and(|p| p == ROOT) {
        prefix.remove(0);
    }
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.join("/"))
    };
    let mut out: Vec<PathBuf> = files()
        .iter()
        .filter_map(|(n, _)| n.strip_prefix(&prefix))
        .filter(|rest| !rest.contains('/'))
        .map(|name| dir.join(name))
        .collect();
    out.sort();
    (!out.is_empty()).then_some(out)
}

/// Why [`export`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: already exists with other content; not overwritten (export into another folder)", path.display())]
    Differs { path: PathBuf },
}

/// Writes every built-in file under `dir` (`dir/quiz/mnist.toml`, …). A file that already exists
/// with the same bytes is left alone; one with other bytes is never overwritten (an error names
/// it, after the others are written). Returns the files written.
pub fn export(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    let mut differs = None;
    for (name, bytes) in files() {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(existing) if existing == *bytes => continue,
            Ok(_) => {
                differs.get_or_insert(path);
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ExportError::Io { path, source }),
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ExportError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    match differs {
        Some(path) => Err(ExportError::Differs { path }),
        None => Ok(written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_with_or_without_the_presets_folder() {
        let a = lookup(Path::new("presets/quiz/digits-embedded.toml")).unwrap();
        let b = lookup(Path::new("./quiz/digits-embedded.toml")).unwrap();
        assert_eq!(a, b);
        assert!(lookup(Path::new("/presets/quiz/digits-embedded.toml")).is_none());
        assert!(lookup(Path::new("presets/quiz/nope.toml")).is_none());
        assert!(lookup(Path::new("presets/../presets/quiz/mnist.toml")).is_none());
        let a1 = list_dir(Path::new("presets/paper-a")).unwrap();
        assert!(a1.contains(&PathBuf::from(
            "presets/paper-a/a1-mnist-patterned-cnn.toml"
        )));
        assert!(list_dir(Path::new("presets/nowhere")).is_none());
    }
}
