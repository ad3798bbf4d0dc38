//! Criterion benchmark of the data pipeline on full MNIST: loading the four IDX files, occluding
//! all 70,000 images, planning the digit sequences, and building them (goal: < 2 s together);
//! and of generating letters (no data folder needed).
//!
//! `OCCLAB_DATA_DIR=../shared/data cargo bench --bench pipeline` (release), or add
//! `--profile dev` to reuse the test build. Without the data folder the benchmark says so and
//! measures nothing.

use criterion::{Criterion, criterion_group, criterion_main};
use occlab::data::letters::{LetterConfig, generate_letters};
use occlab::data::source::DataSource;
use occlab::occlusion::{OcclusionSpec, image_seed};
use occlab::sequence::builder::{BuildConfig, build_patterned};
use occlab::sequence::patterns::{PatternLibrary, ProgressionOptions};
use occlab::sequence::planner::{PlanOptions, plan};
use std::hint::black_box;
use std::path::PathBuf;

fn pipeline(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("OCCLAB_DATA_DIR").map(PathBuf::from) else {
        eprintln!("SKIPPED: set OCCLAB_DATA_DIR to the folder holding mnist/");
        return;
    };
    let source = DataSource::mnist();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.bench_function("load full MNIST", |b| {
        b.iter(|| black_box(source.load(Some(&dir)).unwrap()))
    });
    let set = source.load(Some(&dir)).unwrap();
    let spec = OcclusionSpec::paper_default();
    let mean = set.channel_means();
    g.bench_function("occlude 70,000 images", |b| {
        b.iter(|| {
            let mut px = set.pixels.clone();
            for (i, img) in px.chunks_mut(set.image_len()).enumerate() {
                spec.occlude_seeded(img, (28, 28, 1), (i % 5 + 1) as u8, &mean, image_seed(7, i));
            }
            black_box(px)
        })
    });
    let lib = PatternLibrary::digits(&ProgressionOptions::with_t(5)).unwrap();
    let counts = lib.class_counts(&set.class_names).unwrap();
    let available: Vec<u32> = set.class_counts(None).iter().map(|&c| c as u32).collect();
    g.bench_function("plan digit sequences", |b| {
        b.iter(|| black_box(plan(&counts, &available, &PlanOptions::default()).unwrap()))
    });
    let cfg = BuildConfig {
        t: 5,
        seed: 1,
        ..BuildConfig::default()
    };
    g.bench_function("plan + build sequences", |b| {
        b.iter(|| black_box(build_patterned(&set, &lib, &cfg).unwrap()))
    });
    g.finish();
}

/// Generated letters: 200 per class (5,200), with and without the elastic distortion.
fn letters(c: &mut Criterion) {
    let mut g = c.benchmark_group("letters");
    g.sample_size(10);
    for (name, elastic_alpha) in [
        (
            "generate 5,200 letters",
            LetterConfig::default().elastic_alpha,
        ),
        ("generate 5,200 letters, no elastic distortion", 0.0),
    ] {
        let cfg = LetterConfig {
            per_class: 200,
            seed: 5,
            elastic_alpha,
            ..LetterConfig::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| black_box(generate_letters(&cfg).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline, letters);
criterion_main!(benches);
