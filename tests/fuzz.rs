//! Fuzzing every reader of files occlab is handed (issue 16): random bytes, and valid files
//! mutated (cut short, bits flipped, a header field set to 0 / 1 / max / "negative" / random, bytes
//! added or removed), fed to each loader through a real file. For every input: no panic (proptest
//! catches one and fails), an error that names the file, and a peak allocation under a bound
//! measured by a counting allocator. Inputs are a few KiB and the readers linear in them, so a
//! hang shows as this test not finishing.
//!
//! Cases per reader: the numbers below (a CI-sized run of seconds), or `PROPTEST_CASES` for
//! every reader (`PROPTEST_CASES=5000 cargo test --test fuzz -- --nocapture`). Each reader
//! prints its tally (cases, loaded, refused, largest allocation); docs/RELIABILITY.md records
//! them. The random stream is proptest's deterministic one: the same cases every run.

use burn::tensor::Device;
use occlab::data::clips::{ClipOptions, list_clips, load_clips};
use occlab::data::folder::{Fit, FolderOptions, Polarity, load_folder};
use occlab::data::idx::{self, IdxLayout};
use occlab::data::letters::{LetterConfig, generate_letters};
use occlab::data::motion::{MotionConfig, generate_motion};
use occlab::data::{Split, cifar};
use occlab::experiment::preset::{LibrarySpec, ModelSpec, Preset};
use occlab::experiment::run::RunDir;
use occlab::model::{ModelConfig, ModelKind};
use occlab::quiz::config::{Group, QuizConfig};
use occlab::quiz::items::Stimuli;
use occlab::quiz::session::{self, Response, Session, SessionRecord};
use occlab::train::TrainConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Debug;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

mod common;

/// Counts the bytes allocated now and the peak since the last reset (all threads).
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = CURRENT.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The readers take turns, so that the allocation peak of one is not another's.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

/// Runs a test's set-up in the readers' turn too: its allocations (training a sample run,
/// loading images) must not count against another reader's case.
fn setup<T>(f: impl FnOnce() -> T) -> T {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A valid file mutated: random bytes, cut short, bits flipped, a field (offset, width in bytes,
/// big-endian) set to a boundary value, bytes appended or a stretch removed.
fn mutations(valid: Vec<u8>, fields: Vec<(usize, usize)>) -> BoxedStrategy<Vec<u8>> {
    let len = valid.len().max(1);
    let v1 = valid.clone();
    let v2 = valid.clone();
    let v3 = valid.clone();
    let v4 = valid.clone();
    let v5 = valid.clone();
    let boundary = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(0x8000_0000_0000_0000),
        Just(0x7fff_ffff_ffff_ffff),
        any::<u64>()
    ];
    let field = if fields.is_empty() {
        Just(valid.clone()).boxed()
    } else {
        (prop::sample::select(fields), boundary)
            .prop_map(move |((off, width), value)| {
                let mut b = v3.clone();
                let bytes = value.to_be_bytes();
                // "Negative": the top bit of the field set (a u32 field reads 0x8000_0000).
                let src = &bytes[8 - width..];
                if off + width <= b.len() {
                    b[off..off + width].copy_from_slice(src);
                }
                b
            })
            .boxed()
    };
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        (0..=valid.len()).prop_map(move |k| v1[..k].to_vec()),
        prop::collection::vec((0..len, 0..8u8), 1..8).prop_map(move |flips| {
            let mut b = v2.clone();
            for (i, bit) in flips {
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << bit;
                }
            }
            b
        }),
        field,
        prop::collection::vec(any::<u8>(), 1..64).prop_map(move |extra| {
            let mut b = v4.clone();
            b.extend(extra);
            b
        }),
        (0..len, 1..64usize).prop_map(move |(at, n)| {
            let mut b = v5.clone();
            let end = (at + n).min(b.len());
            if at < end {
                b.drain(at..end);
            }
            b
        }),
    ]
    .boxed()
}

/// Runs `check` on the inputs; `check` returns `Ok(true)` when the input loaded, `Err(message)`
/// when it was refused. Fails on a panic, on a refusal whose message lacks `names`, and on a
/// peak allocation above `bound(input)` bytes. Prints the tally.
fn fuzz<T: Debug + Clone>(
    reader: &str,
    default_cases: u32,
    strategy: BoxedStrategy<T>,
    names: &str,
    bound: impl Fn(&T) -> usize,
    check: impl Fn(&T) -> Result<bool, String>,
) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = cases(default_cases);
    let config = Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let loaded = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let peak_seen = AtomicUsize::new(0);
    let result = runner.run(&strategy, |input| {
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let outcome = check(&input);
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        peak_seen.fetch_max(peak, Ordering::Relaxed);
        let limit = bound(&input);
        if peak > limit {
            return Err(TestCaseError::fail(format!(
                "allocated {peak} bytes, more than the bound {limit}"
            )));
        }
        match outcome {
            Ok(_) => {
                loaded.fetch_add(1, Ordering::Relaxed);
            }
            Err(message) => {
                refused.fetch_add(1, Ordering::Relaxed);
                if !message.contains(names) {
                    return Err(TestCaseError::fail(format!(
                        "the error does not name {names}: {message}"
                    )));
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{reader}: {e}");
    }
    eprintln!(
        "fuzz {reader}: {n} cases, {} loaded, {} refused with an error naming the file, 0 panics; \
         largest allocation {} KiB",
        loaded.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        peak_seen.load(Ordering::Relaxed).div_ceil(1024)
    );
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Bound for the binary readers: the input inflated at gzip's largest ratio (~1,032:1) plus
/// room for the decoded set and the error text.
fn binary_bound(input: &[u8]) -> usize {
    16 * MIB + 1100 * input.len()
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn idx_sample() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..3 * 4 * 4).map(|i| (i * 7) as u8).collect();
    (
        idx::encode_images(3, 4, 4, &pixels),
        idx::encode_labels(&[0, 1, 2]),
    )
}

#[test]
fn idx_image_and_label_files() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = idx_sample();
    let img_fields = vec![(0, 4), (4, 4), (8, 4), (12, 4), (3, 1)];
    for (reader, gzipped) in [("IDX images", false), ("IDX images (gzip)", true)] {
        let ip = dir.path().join("images-idx3-ubyte");
        let lp = dir.path().join("labels-ok");
        write(&lp, &labels);
        fuzz(
            reader,
            128,
            mutations(images.clone(), img_fields.clone()),
            "images-idx3-ubyte",
            |b| binary_bound(b),
            |b| {
                write(&ip, &if gzipped { gz(b) } else { b.clone() });
                idx::load_pair("t", &ip, &lp, IdxLayout::Standard, None, Split::Train)
                    .map(|_| true)
                    .map_err(|e| e.to_string())
            },
        );
    }
    let ip = dir.path().join("images-ok");
    let lp = dir.path().join("labels-idx1-ubyte");
    write(&ip, &images);
    // EMNIST letters number their classes from 1.
    for (layout, valid) in [
        (IdxLayout::Standard, labels.clone()),
        (IdxLayout::EmnistLetters, idx::encode_labels(&[1, 2, 26])),
    ] {
        fuzz(
            &format!("IDX labels ({layout:?})"),
            128,
            mutations(valid, vec![(0, 4), (4, 4), (8, 1), (10, 1)]),
            "labels-idx1-ubyte",
            |b| binary_bound(b),
            |b| {
                write(&lp, b);
                idx::load_pair("t", &ip, &lp, layout, None, Split::Train)
                    .map(|_| true)
                    .map_err(|e| e.to_string())
            },
        );
    }
    // A gzipped file mutated after compression (corrupt streams, wrong lengths, bad CRC).
    write(&lp, &labels);
    let gp = dir.path().join("images-idx3-ubyte.gz");
    fuzz(
        "IDX gzip stream",
        128,
        mutations(gz(&images), vec![(0, 1), (3, 1), (10, 4)]),
        "images-idx3-ubyte.gz",
        |b| binary_bound(b),
        |b| {
            write(&gp, b);
            idx::load_pair("t", &gp, &lp, IdxLayout::Standard, None, Split::Train)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
}

#[test]
fn cifar_batches_and_class_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut batch = Vec::new();
    for r in 0..2u8 {
        batch.push(r * 3);
        batch.extend((0..3072).map(|i| (i % 251) as u8 ^ r));
    }
    let path = dir.path().join("data_batch_1.bin");
    fuzz(
        "CIFAR-10 batch",
        64,
        mutations(batch, vec![(0, 1), (3073, 1), (1, 4)]),
        "data_batch_1.bin",
        |b| binary_bound(b),
        |b| {
            write(&path, b);
            cifar::load_dir(dir.path())
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
    let meta = dir.path().join("batches.meta.txt");
    fuzz(
        "CIFAR-10 batches.meta.txt",
        64,
        mutations(cifar::CIFAR10_CLASSES.join("\n").into_bytes(), vec![]),
        "batches.meta.txt",
        |b| binary_bound(b),
        |b| {
            write(&meta, b);
            cifar::read_meta(dir.path())
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
}

fn png_sample() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg_sample() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Decoding a mutated image may allocate what its (bounded) header claims: `image`'s default
/// limit is 512 MiB.
const IMAGE_BOUND: usize = 600 * MIB;

#[test]
fn image_folders() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FolderOptions {
        height: 8,
        width: 8,
        channels: 3,
        polarity: Polarity::DarkBackground,
        fit: Fit::Resize,
        ..Default::default()
    };
    // PNG: IHDR width at 16, height at 20, bit depth and colour type at 24–25.
    for (reader, name, sample, fields) in [
        (
            "image folder (PNG)",
            "a.png",
            png_sample(),
            vec![(16, 4), (20, 4), (24, 1), (25, 1), (8, 4)],
        ),
        (
            "image folder (JPEG)",
            "a.jpg",
            jpeg_sample(),
            vec![(2, 2), (4, 2)],
        ),
    ] {
        let path = dir.path().join("cls").join(name);
        fuzz(
            reader,
            64,
            mutations(sample, fields),
            name,
            |_| IMAGE_BOUND,
            |b| {
                write(&path, b);
                load_folder(dir.path(), &opts)
                    .map(|_| true)
                    .map_err(|e| e.to_string())
            },
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn clip_folders_and_split_lists() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("clips");
    let png = png_sample();
    for clip in [
        "Walk/v_Walk_g01_c01",
        "Walk/v_Walk_g02_c01",
        "Run/v_Run_g01_c01",
    ] {
        for f in 1..=2 {
            write(&root.join(clip).join(format!("frame_{f:05}.png")), &png);
        }
    }
    let opts = ClipOptions {
        height: 8,
        width: 8,
        ..Default::default()
    };
    let frame = root.join("Walk/v_Walk_g01_c01/frame_00001.png");
    fuzz(
        "clip folder (frame)",
        64,
        mutations(png.clone(), vec![(16, 4), (20, 4), (24, 1)]),
        "frame_00001.png",
        |_| IMAGE_BOUND,
        |b| {
            write(&frame, b);
            load_clips(&root, &opts)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
    write(&frame, &png);
    let train = "Walk/v_Walk_g01_c01.avi 1\nRun/v_Run_g01_c01.avi 2\n";
    write(&root.join("testlist01.txt"), b"Walk/v_Walk_g02_c01.avi\n");
    let list = root.join("trainlist01.txt");
    fuzz(
        "clip folder (trainlist01.txt)",
        64,
        mutations(train.as_bytes().to_vec(), vec![]),
        "trainlist01.txt",
        |b| binary_bound(b),
        |b| {
            write(&list, b);
            list_clips(&root, &opts)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
}

fn toml_mutations(valid: &str) -> BoxedStrategy<Vec<u8>> {
    let lines: Vec<String> = valid.lines().map(String::from).collect();
    let n = lines.len();
    let l1 = lines.clone();
    let l2 = lines.clone();
    prop_oneof![
        3 => mutations(valid.as_bytes().to_vec(), vec![]),
        // A line dropped, or a value replaced by a hostile one.
        1 => (0..n).prop_map(move |i| {
            let mut l = l1.clone();
            l.remove(i);
            l.join("\n").into_bytes()
        }),
        1 => (0..n, prop::sample::select(vec![
            "-1", "0", "1e308", "nan", "-inf", "18446744073709551615", "4294967296", "\"\"",
            "[]", "{}", "\"x\"", "true", "999999999999",
        ])).prop_map(move |(i, v)| {
            let mut l = l2.clone();
            if let Some((k, _)) = l[i].split_once('=') {
                l[i] = format!("{k}= {v}");
            }
            l.join("\n").into_bytes()
        }),
    ]
    .boxed()
}

#[test]
fn presets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzzed.toml");
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    for (reader, text) in [
        (
            "preset (train)",
            include_str!("../presets/train/demo-crnn-embedded.toml"),
        ),
        (
            "preset (paper A)",
            include_str!("../presets/paper-a/a1-mnist-patterned-crnn.toml"),
        ),
        (
            "preset (paper B clips)",
            include_str!("../presets/paper-b/b-action-clips-rrn.toml"),
        ),
    ] {
        fuzz(
            reader,
            128,
            toml_mutations(text),
            "fuzzed.toml",
            |b| binary_bound(b),
            |b| {
                write(&path, b);
                let p = Preset::load(&path).map_err(|e| e.to_string())?;
                // What a loaded preset promises is checked where it is used; that must not
                // panic either.
                let _ = p.library(&digits);
                if let Some(m) = &p.model {
                    let _ = m.config(1, 28, 28, 10).validate();
                }
                let _ = p.occlusion.validate();
                Ok(true)
            },
        );
    }
}

/// A finished one-epoch run of a small CNN on 8 + 8 embedded-digit sequences (made once).
fn sample_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let train = TrainConfig {
            epochs: 1,
            batch_size: 8,
            ..Default::default()
        };
        let mut p = common::embedded_digits_preset("fuzz", ModelKind::Cnn, 8, 1, train);
        p.sequences.patterns = LibrarySpec::DigitProgressions {
            steps: vec![1],
            ascending: true,
            descending: false,
            wrap: Default::default(),
        };
        let path = dir.path().join("run");
        common::train_to_end(&p, &path);
        (dir, path)
    })
    .1
}

/// A copy of the sample run whose `file` is replaced by each input.
fn fuzz_run_file(
    reader: &str,
    file: &str,
    default_cases: u32,
    fields: Vec<(usize, usize)>,
    check: impl Fn(&RunDir) -> Result<bool, String>,
) {
    let src = setup(sample_run);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("run");
    for f in [
        "config.toml",
        "run.json",
        "metrics.jsonl",
        "predictions.csv",
        "checkpoint/model.bpk",
        "checkpoint/optimizer.bpk",
        "checkpoint/epoch.json",
    ] {
        write(&copy.join(f), &std::fs::read(src.join(f)).unwrap());
    }
    let valid = std::fs::read(src.join(file)).unwrap();
    let run = RunDir::open(&copy).unwrap();
    let target = copy.join(file);
    let name = Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let strategy = if file.ends_with(".toml") {
        toml_mutations(std::str::from_utf8(&valid).unwrap())
    } else {
        mutations(valid, fields)
    };
    fuzz(
        reader,
        default_cases,
        strategy,
        &name,
        |b| 64 * MIB + binary_bound(b),
        |b| {
            write(&target, b);
            check(&run)
        },
    );
}

#[test]
fn run_directories() {
    fuzz_run_file("run config.toml", "config.toml", 64, vec![], |r| {
        r.preset().map(|_| true).map_err(|e| e.to_string())
    });
    fuzz_run_file("run metrics.jsonl", "metrics.jsonl", 128, vec![], |r| {
        r.read_log().map(|_| true).map_err(|e| e.to_string())
    });
    fuzz_run_file("run predictions.csv", "predictions.csv", 128, vec![], |r| {
        r.predictions().map(|_| true).map_err(|e| e.to_string())
    });
    fuzz_run_file(
        "run checkpoint/epoch.json",
        "checkpoint/epoch.json",
        64,
        vec![],
        |r| {
            r.checkpoint_epoch()
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
    fuzz_run_file("run run.json", "run.json", 64, vec![], |r| {
        r.info().map(|_| true).map_err(|e| e.to_string())
    });
    // The checkpoint is read by Burn; its errors are wrapped with the file's path.
    let config: ModelConfig = ModelSpec::new(ModelKind::Cnn).config(1, 28, 28, 10);
    let device = Device::flex();
    fuzz_run_file(
        "run checkpoint/model.bpk",
        "checkpoint/model.bpk",
        32,
        vec![(0, 4), (4, 4), (8, 8)],
        |r| {
            occlab::train::eval::load_model(&r.model_path(), &config, &device)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
}

#[test]
fn quiz_session_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = setup(|| {
        let preset = Preset::parse(
            include_str!("../presets/quiz/digits-embedded.toml"),
            Path::new("digits-embedded.toml"),
        )
        .unwrap();
        let mut c = QuizConfig::new("F1", Group::NonExpert, preset);
        c.patterned = 2;
        c.random = 1;
        c.practice = 0;
        let stimuli = Stimuli::load(&c, None).unwrap();
        let (mut s, _) = session::start(dir.path(), &c, &stimuli).unwrap();
        for item in 0..2 {
            let n = s.header().items[item].len();
            s.append(Response {
                item,
                answers: vec![Some(1); n],
                answer_ms: vec![Some(500.0); n],
                sequence_ms: 2000.0,
                corrections: 0,
                timed_out: false,
                submitted_unix_ms: 1_700_000_000_000,
            })
            .unwrap();
        }
        s.path().to_path_buf()
    });
    let valid = std::fs::read(&path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    fuzz(
        "quiz session file (read)",
        128,
        mutations(valid.clone(), vec![]),
        &name,
        |b| binary_bound(b),
        |b| {
            write(&path, b);
            SessionRecord::read(&path)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
    fuzz(
        "quiz session file (resume)",
        64,
        mutations(valid, vec![]),
        &name,
        |b| binary_bound(b),
        |b| {
            write(&path, b);
            Session::open(&path)
                .map(|_| true)
                .map_err(|e| e.to_string())
        },
    );
}

/// Up to three of a config's fields set to hostile values (index of the field, index of the
/// value): most configs keep some valid fields, so each check is reached.
fn hostile_fields(fields: usize) -> BoxedStrategy<Vec<(usize, usize)>> {
    prop::collection::vec((0..fields, 0..5usize), 0..4).boxed()
}

const HOSTILE_F32: [f32; 5] = [f32::NAN, -1.0, f32::INFINITY, 1e30, 0.0];
const HOSTILE_F64: [f64; 5] = [f64::NAN, -0.5, 1.0, 2.0, f64::NEG_INFINITY];
const HOSTILE_USIZE: [usize; 5] = [0, 7, 513, usize::MAX / 4, usize::MAX];

/// Sets a config's field to its hostile value number `v` (0–4).
type Setter<C> = fn(&mut C, usize);

/// `c` with the `hostile` (field, value) pairs of [`hostile_fields`] applied through `fields`.
fn with_hostile<C>(mut c: C, fields: &[Setter<C>], hostile: Vec<(usize, usize)>) -> C {
    for (field, v) in hostile {
        fields[field](&mut c, v);
    }
    c
}

#[test]
fn generated_sources() {
    let letter_fields: Vec<Setter<LetterConfig>> = vec![
        |c, v| c.per_class = [2_000_000, usize::MAX, 1, 0, 3][v],
        |c, v| c.size = HOSTILE_USIZE[v],
        |c, v| c.test_fraction = HOSTILE_F64[v],
        |c, v| c.lowercase_share = HOSTILE_F64[v],
        |c, v| c.max_rotation_deg = HOSTILE_F32[v],
        |c, v| c.max_shear = HOSTILE_F32[v],
        |c, v| c.scale_jitter = HOSTILE_F32[v],
        |c, v| c.max_translation = HOSTILE_F32[v],
        |c, v| c.elastic_alpha = HOSTILE_F32[v],
        |c, v| c.elastic_sigma = HOSTILE_F32[v],
        |c, v| c.stroke_min = HOSTILE_F32[v],
        |c, v| c.stroke_max = HOSTILE_F32[v],
        |c, _| c.fonts = vec!["no such font".into()],
    ];
    let sizes = prop::sample::select(vec![8usize, 16, 28]);
    let letters = (0..3usize, sizes, hostile_fields(letter_fields.len()))
        .prop_map(move |(per_class, size, hostile)| {
            let base = LetterConfig {
                per_class,
                size,
                ..LetterConfig::default()
            };
            with_hostile(base, &letter_fields, hostile)
        })
        .boxed();
    fuzz(
        "generated letters (config)",
        48,
        letters,
        "generated letters",
        |_| 64 * MIB,
        |c| generate_letters(c).map(|_| true).map_err(|e| e.to_string()),
    );
    let motion_fields: Vec<Setter<MotionConfig>> = vec![
        |c, v| c.per_class = HOSTILE_USIZE[v],
        |c, v| c.frames = HOSTILE_USIZE[v],
        |c, v| c.size = HOSTILE_USIZE[v],
        |c, v| c.test_fraction = HOSTILE_F64[v],
        |c, v| c.speed = HOSTILE_F32[v],
        |c, v| c.step_px = HOSTILE_F32[v],
        |c, v| c.step_deg = HOSTILE_F32[v],
        |c, v| c.step_log_scale = HOSTILE_F32[v],
        |c, v| c.digit_scale = HOSTILE_F32[v],
        |c, v| c.max_offset = HOSTILE_F32[v],
        |c, v| c.max_angle = HOSTILE_F32[v],
        |c, v| c.max_log_scale = HOSTILE_F32[v],
        // No motions at all, or one twice.
        |c, v| match c.motions.first().copied() {
            Some(first) if v % 2 == 1 => c.motions.push(first),
            _ => c.motions.clear(),
        },
    ];
    let motion = (1..3usize, 1..4usize, hostile_fields(motion_fields.len()))
        .prop_map(move |(per_class, frames, hostile)| {
            let base = MotionConfig {
                per_class,
                frames,
                size: 16,
                ..MotionConfig::default()
            };
            with_hostile(base, &motion_fields, hostile)
        })
        .boxed();
    fuzz(
        "generated motion clips (config)",
        48,
        motion,
        "generated motion clips",
        |_| 64 * MIB,
        |c| generate_motion(c).map(|_| true).map_err(|e| e.to_string()),
    );
}
