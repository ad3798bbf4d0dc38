//! The layers of `src/` import one way (docs/ARCHITECTURE.md):
//!
//! ```text
//! data (crashpoint, csvfile, errors) → occlusion → sequence → model, metrics → train → experiment, bench → quiz, report, classroom → gui, cli
//! ```
//!
//! Reads every `.rs` file under `src/`, collects the modules each one names (`use crate::…`,
//! `use super::…`, inline `crate::…` paths; `occlab::…` in `main.rs` and `cli/`), and fails when a lower
//! layer names a higher one, or when two modules name each other (a parent naming its own
//! children, e.g. `pub use` in a `mod.rs`, is not a dependency).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of a top-level module: a module may import only modules of its own layer or below.
fn layer(top: &str) -> Option<usize> {
    Some(match top {
        // Leaf utilities that import nothing of the crate: crash points for the crash tests,
        // error chains as people read them, CSV text.
        "data" | "crashpoint" | "csvfile" | "errors" => 0,
        "occlusion" => 1,
        "sequence" => 2,
        "model" | "metrics" => 3,
        "train" => 4,
        "experiment" | "bench" => 5,
        "quiz" | "report" | "classroom" => 6,
        "gui" | "main" | "cli" => 7,
        _ => return None,
    })
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/train/engine.rs` → `["train", "engine"]`, `src/train/mod.rs`
/// → `["train"]`, `src/main.rs` → `["main"]`, `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The code of a file without comments (line comments and doc comments).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string ("https://…") is rare in paths we care about.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree (`a::b::{c, d::{e, f}}`) starting at `text` into full paths of lowercase
/// segments (module names; a path stops at its first item that is not one).
fn expand_tree(prefix: &[String], text: &str, out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut rest = text.trim_start();
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            // Split the group at top-level commas.
            let mut depth = 0;
            let mut start = 0;
            let bytes: Vec<char> = inner.chars().collect();
            let mut end = bytes.len();
            for (i, &c) in bytes.iter().enumerate() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let item: String = bytes[start..i].iter().collect();
                        expand_tree(&path, &item, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            let item: String = bytes[start..end].iter().collect();
            expand_tree(&path, &item, out);
            return;
        }
        let ident: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        rest = &rest[ident.len()..];
        if ident != "self" {
            path.push(ident);
        }
        match rest.strip_prefix("::") {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    out.push(path);
}

/// The module paths a file names, absolute (without `crate`).
fn named_paths(module: &[String], code: &str, modules: &BTreeSet<Vec<String>>) -> Vec<Vec<String>> {
    let root = if module == ["main"] || module.first().is_some_and(|m| m == "cli") {
        "occlab::"
    } else {
        "crate::"
    };
    let mut out = Vec::new();
    // Absolute paths, in `use` statements and inline.
    let mut at = 0;
    while let Some(i) = code[at..].find(root) {
        let start = at + i;
        at = start + root.len();
        if start > 0 && code[..start].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        expand_tree(&[], &code[at..], &mut out);
    }
    // `use super::…` and `use child::…` (relative to this module).
    for stmt in code.split("use ").skip(1) {
        let stmt = stmt.split(';').next().unwrap_or("");
        let mut base: Vec<String> = module.to_vec();
        let mut tree = stmt.trim_start();
        let mut relative = false;
        while let Some(r) = tree.strip_prefix("super::") {
            base.pop();
            tree = r;
            relative = true;
        }
        if !relative {
            let first: String = tree.chars().take_while(|&c| is_ident(c)).collect();
            let mut child = module.to_vec();
            child.push(first);
            if !modules.contains(&child) {
                continue;
            }
        }
        expand_tree(&base, tree, &mut out);
    }
    out
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

#[test]
fn lower_layers_never_import_higher_ones_and_no_two_modules_import_each_other() {
    let src = Path::new("src");
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for path in named_paths(&module, &code, &modules) {
            if let Some(target) = resolve(&path, &modules)
                && target != module
                && !target.is_empty()
            {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    assert!(
        edges.values().map(BTreeSet::len).sum::<usize>() > 100,
        "the import scan found too few imports: the parser is broken"
    );
    let name = |m: &[String]| m.join("::");
    let mut problems = Vec::new();
    for (from, targets) in &edges {
        let Some(from_layer) = from.first().and_then(|t| layer(t)) else {
            continue;
        };
        for to in targets {
            match to.first().and_then(|t| layer(t)) {
                Some(to_layer) if to_layer > from_layer => problems.push(format!(
                    "{} (layer {from_layer}) imports {} (layer {to_layer}), a higher layer",
                    name(from),
                    name(to)
                )),
                None => problems.push(format!(
                    "{} imports {}, which has no layer: add it to `layer` and to \
                     docs/ARCHITECTURE.md",
                    name(from),
                    name(to)
                )),
                _ => {}
            }
            // A parent may name its children (its re-exports) while they name it; any other
            // pair must be one-way.
            let related = to.starts_with(from) || from.starts_with(to);
            let back = edges.get(to).is_some_and(|t| t.contains(from));
            if back && !related && from < to {
                problems.push(format!("{} and {} import each other", name(from), name(to)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_reads_use_trees() {
    let mut out = Vec::new();
    expand_tree(
        &[],
        "train::{engine::{self, TrainError}, records::LogLine, BackendChoice};",
        &mut out,
    );
    let names: BTreeSet<String> = out.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["train", "train::engine", "train::records"]
    );
}

/// Where `code` starts a thread of its own (`std::thread::spawn`, a `thread::Builder`, a
/// scope, rayon's `spawn`): the 1-based lines.
fn thread_starts(code: &str) -> Vec<usize> {
    const STARTS: [&str; 5] = [
        "thread::spawn",
        "thread::Builder",
        "thread::scope",
        "rayon::spawn",
        "rayon::scope",
    ];
    code.lines()
        .enumerate()
        .filter(|(_, line)| STARTS.iter().any(|s| line.contains(s)))
        .map(|(i, _)| i + 1)
        .collect()
}

#[test]
fn the_gui_starts_threads_only_through_its_task_type() {
    // `gui/task.rs` is the one place: every one-shot job is a `Task`, and long jobs (training,
    // reproduce, the quiz server) are started by the library, which owns their threads.
    let src = Path::new("src/gui");
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    assert!(files.len() > 10, "found too few files under src/gui");
    let mut problems = Vec::new();
    for file in &files {
        if file.ends_with("task.rs") {
            assert!(
                !thread_starts(&code_of(&std::fs::read_to_string(file).unwrap())).is_empty(),
                "gui/task.rs no longer starts the tasks' threads: update this test"
            );
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for line in thread_starts(&code) {
            problems.push(format!(
                "{}:{line} starts a thread: use gui::task::Task",
                file.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_thread_scan_finds_a_spawn_and_skips_comments() {
    let code = code_of(
        "fn a() {\n    // std::thread::spawn in a comment\n    let h = std::thread::spawn(|| 1);\n}\n\
         fn b() { std::thread::Builder::new().spawn(|| ()).unwrap(); }\n",
    );
    assert_eq!(thread_starts(&code), [3, 5]);
}
