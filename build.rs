//! Builds every file under `presets/` into the binary (see `src/experiment/builtin.rs`): the
//! list is generated here, so a preset file added to the folder is built in without naming it
//! anywhere. No dependency: a walk of one folder and `include_bytes!` lines.
//!
//! It also passes the features Burn is built with (read from `Cargo.toml`'s `burn = { … }` line)
//! to the code as `OCCLAB_BURN_FEATURES`, so that `occlab bench` and the run metadata say which
//! GPU features (`fusion`, `autotune`, `vulkan`) this binary has.

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

/// The `features = [ … ]` of the `burn = { … }` dependency line, comma-separated.
fn burn_features(manifest: &str) -> String {
    let Some(line) = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("burn = {"))
    else {
        return String::new();
    };
    let Some(list) = line
        .split_once("features = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
    else {
        return String::new();
    };
    list.split(',')
        .map(|f| f.trim().trim_matches('"'))
        .filter(|f| !f.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=Cargo.toml");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    println!(
        "cargo:rustc-env=OCCLAB_BURN_FEATURES={}",
        burn_features(&manifest)
    );
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
        // Relative to the manifest folder at compile time, not an absolute path written here:
        // a target folder shared by two checkouts (CI's cache, a second clone) may reuse this
        // script's output from the other one, whose absolute paths can be gone.
        code.push_str(&format!(
            "    ({:?}, include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?})) as &[u8]),\n",
            rel.join("/"),
            format!("/presets/{}", rel.join("/"))
        ));
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("builtin_presets.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
