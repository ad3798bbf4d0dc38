//! Builds every file under `presets/` into the binary (see `src/experiment/builtin.rs`): the
//! list is generated here, so a preset file added to the folder is built in without naming it
//! anywhere. No dependency: a walk of one folder and `include_bytes!` lines.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let presets = root.join("presets");
    // A folder here makes cargo rerun this script when anything under it changes.
    println!("cargo:rerun-if-changed=presets");
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    walk(&presets, &mut files);
    let mut code = String::from(
        "/// Every file under `presets/`: its path relative to that folder (with `/`), its bytes.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(&presets).expect("under presets/");
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        code.push_str(&format!(
            "    ({:?}, include_bytes!({:?}) as &[u8]),\n",
            rel.join("/"),
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("builtin_presets.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
