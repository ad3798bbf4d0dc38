//! Pattern libraries, the planner and the sequence builder (synthetic image sets: only labels and
//! splits matter, images are 1×1 pixels).

use std::collections::HashSet;
use std::path::Path;

use occlab::data::{ImageSet, Split};
use occlab::sequence::builder::{
    BuildConfig, Ordering, SequenceSet, TestPatterns, build_patterned, level_counts, random_control,
};
use occlab::sequence::patterns::{
    PatternError, PatternLibrary, ProgressionOptions, Wrap, digit_symbols,
};
use occlab::sequence::planner::{PlanError, PlanOptions, plan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// MNIST class counts, train + test (70,000 images).
const MNIST_ALL: [u32; 10] = [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958];
const MNIST_TRAIN: [u32; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST: [u32; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

fn letters() -> Vec<String> {
    (b'A'..=b'Z').map(|c| (c as char).to_string()).collect()
}

/// A set of 1×1 images with `train[k]` + `test[k]` images of class k, classes interleaved.
fn synthetic(class_names: Vec<String>, train: &[u32], test: &[u32]) -> ImageSet {
    let mut labels = Vec::new();
    let mut splits = Vec::new();
    for (split, counts) in [(Split::Train, train), (Split::Test, test)] {
        let most = counts.iter().copied().max().unwrap_or(0);
        for i in 0..most {
            for (k, &n) in counts.iter().enumerate() {
                if i < n {
                    labels.push(k as u16);
                    splits.push(split);
                }
            }
        }
    }
    let pixels = vec![0u8; labels.len()];
    ImageSet::new(
        "synthetic",
        1,
        1,
        1,
        pixels,
        labels,
        splits,
        class_names,
        Path::new("synthetic"),
    )
    .unwrap()
}

fn small_digits() -> ImageSet {
    synthetic(digit_symbols(), &[60; 10], &[20; 10])
}

/// Checks every invariant of a patterned set built from `images` and `library`.
fn check_patterned(images: &ImageSet, library: &PatternLibrary, set: &SequenceSet) {
    let labels = library.labels(&images.class_names).unwrap();
    let mut seen = HashSet::new();
    for s in &set.sequences {
        assert_eq!(s.images.len(), set.t);
        let p = s.pattern.expect("patterned") as usize;
        assert_eq!(
            s.labels, labels[p],
            "sequence does not spell {}",
            library.patterns[p].name
        );
        for (&id, &l) in s.images.iter().zip(&s.labels) {
            assert!(seen.insert(id), "image {id} used twice");
            assert_eq!(
                images.labels[id as usize], l,
                "image {id} has another label"
            );
            assert_eq!(
                images.splits[id as usize], s.split,
                "image {id} is in the other split"
            );
        }
        assert!(s.levels.iter().all(|&v| (1..=5).contains(&v)));
    }
}

// ---------------------------------------------------------------- patterns

#[test]
fn digit_progressions_default_t5() {
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    let names = lib.names();
    assert_eq!(names.len(), 16, "{names:?}");
    assert_eq!(names[0], "0-1-2-3-4");
    assert!(names.contains(&"1-3-5-7-9".to_string()));
    assert!(names.contains(&"9-8-7-6-5".to_string()));
    lib.validate(&digit_symbols(), 5).unwrap();
}

#[test]
fn digit_progressions_every_t_from_5_to_30() {
    let images = small_digits();
    for t in 5..=30 {
        let lib = PatternLibrary::digits(&ProgressionOptions::with_t(t)).unwrap();
        lib.validate(&digit_symbols(), t).unwrap();
        let cfg = BuildConfig {
            t,
            seed: t as u64,
            ..BuildConfig::default()
        };
        let (set, plans) = build_patterned(&images, &lib, &cfg).unwrap();
        assert!(
            set.len(Split::Train) > 0 && set.len(Split::Test) > 0,
            "T={t}"
        );
        assert_eq!(plans.train.total as usize, set.len(Split::Train));
        check_patterned(&images, &lib, &set);
    }
}

#[test]
fn wrap_options() {
    let never = ProgressionOptions {
        t: 11,
        wrap: Wrap::Never,
        ..ProgressionOptions::default()
    };
    let err = PatternLibrary::digits(&never).unwrap_err();
    assert!(
        matches!(err, PatternError::NoProgression { t: 11, .. }),
        "{err}"
    );
    // T = 10 without wrap: only 0-…-9 and 9-…-0.
    let ten = ProgressionOptions {
        t: 10,
        wrap: Wrap::Never,
        ..ProgressionOptions::default()
    };
    assert_eq!(PatternLibrary::digits(&ten).unwrap().len(), 2);
    // Always: 10 starts × 2 steps × 2 directions, all distinct.
    let always = ProgressionOptions {
        t: 5,
        wrap: Wrap::Always,
        ..ProgressionOptions::default()
    };
    let lib = PatternLibrary::digits(&always).unwrap();
    assert_eq!(lib.len(), 40);
    assert!(lib.names().contains(&"7-8-9-0-1".to_string()));
    // Long T continues cyclically.
    let long = PatternLibrary::digits(&ProgressionOptions::with_t(12)).unwrap();
    assert!(
        long.names()
            .contains(&"0-1-2-3-4-5-6-7-8-9-0-1".to_string())
    );
    // Duplicates across steps are dropped (ascending step 9 = descending step 1).
    let dup = ProgressionOptions {
        t: 5,
        steps: vec![1, 9],
        wrap: Wrap::Always,
        ..ProgressionOptions::default()
    };
    assert_eq!(PatternLibrary::digits(&dup).unwrap().len(), 20);
    let bad = ProgressionOptions {
        steps: vec![0],
        ..ProgressionOptions::default()
    };
    assert!(matches!(
        PatternLibrary::digits(&bad),
        Err(PatternError::Options(_))
    ));
}

#[test]
fn cifar10_label_progressions() {
    let lib = PatternLibrary::cifar10(&ProgressionOptions::default()).unwrap();
    assert_eq!(lib.patterns[0].name, "airplane-automobile-bird-cat-deer");
    let names: Vec<String> = occlab::data::cifar::CIFAR10_CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    lib.validate(&names, 5).unwrap();
    assert_eq!(
        lib.class_counts(&names).unwrap()[0],
        vec![1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    );
}

#[test]
fn cities_and_concatenations_t6_to_30() {
    let lib = PatternLibrary::cities();
    assert!(lib.len() >= 100, "{} cities", lib.len());
    let names = lib.names();
    for city in [
        "BOSTON", "MILTON", "DALLAS", "DENVER", "AUSTIN", "TOLEDO", "OTTAWA", "REGINA",
    ] {
        assert!(names.contains(&city.to_string()), "{city} missing");
    }
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        names.len(),
        "duplicate city"
    );
    let images = synthetic(letters(), &[200; 26], &[50; 26]);
    for t in [6, 12, 18, 24, 30] {
        let lib = PatternLibrary::cities_for_length(t).unwrap();
        lib.validate(&letters(), t).unwrap();
        // Each city appears exactly once at each chain position.
        let k = t / 6;
        for part in 0..k {
            let firsts: HashSet<String> = lib
                .patterns
                .iter()
                .map(|p| p.symbols[part * 6..part * 6 + 6].concat())
                .collect();
            assert_eq!(firsts.len(), lib.len(), "T={t} part {part}");
        }
        if k == 2 {
            assert!(lib.patterns[0].name.starts_with(&format!("{}+", names[0])));
        }
        // A short branch-and-bound budget: plans stay valid (maybe a sequence short of optimal).
        let cfg = BuildConfig {
            t,
            plan: PlanOptions {
                node_limit: 2_000,
                ..PlanOptions::default()
            },
            ..BuildConfig::default()
        };
        let (set, plans) = build_patterned(&images, &lib, &cfg).unwrap();
        assert!(set.len(Split::Train) > 0, "T={t}");
        for p in [&plans.train, &plans.test] {
            assert!(
                p.total <= p.upper_bound && p.upper_bound - p.total <= 1,
                "T={t}: {p:?}"
            );
        }
        check_patterned(&images, &lib, &set);
    }
    assert!(matches!(
        PatternLibrary::cities_for_length(8),
        Err(PatternError::CityLength { t: 8, .. })
    ));
}

#[test]
fn parse_formats() {
    let text = "# comment\n0-1-2-3-4\n\n cat, dog ,cat # trailing\nbird frog\nBOSTON\n01234\n";
    let lib = PatternLibrary::parse("mine", text).unwrap();
    let symbols: Vec<Vec<String>> = lib.patterns.iter().map(|p| p.symbols.clone()).collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(symbols[0], s(&["0", "1", "2", "3", "4"]));
    assert_eq!(symbols[1], s(&["cat", "dog", "cat"]));
    assert_eq!(symbols[2], s(&["bird", "frog"]));
    assert_eq!(symbols[3], s(&["B", "O", "S", "T", "O", "N"]));
    assert_eq!(symbols[4], s(&["0", "1", "2", "3", "4"]));
    assert_eq!(lib.patterns[1].name, "cat, dog ,cat");
    // Case-insensitive symbols: lowercase city names spell A–Z classes.
    let lower = PatternLibrary::parse("lower", "boston\nmilton").unwrap();
    assert_eq!(
        lower.labels(&letters()).unwrap()[0],
        vec![1, 14, 18, 19, 14, 13]
    );
}

#[test]
fn validation_errors_name_the_pattern() {
    let lib = PatternLibrary::parse("cities", "BOSTON\nDALLAS\nBOST0N\n").unwrap();
    let err = lib.validate(&letters(), 6).unwrap_err().to_string();
    assert!(
        err.contains("unknown symbol '0' in pattern 3 \"BOST0N\""),
        "{err}"
    );

    let lib = PatternLibrary::parse("cities", "BOSTON\nMIAMI\n").unwrap();
    let err = lib.validate(&letters(), 6).unwrap_err().to_string();
    assert!(
        err.contains("wrong length 5 in pattern 2 \"MIAMI\", expected 6"),
        "{err}"
    );

    let err = PatternLibrary::parse("x", "0-1\n0--1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("pattern 2 \"0--1\""), "{err}");

    let err = PatternLibrary::parse("blank", "# nothing\n\n").unwrap_err();
    assert!(matches!(err, PatternError::NoPatterns { .. }), "{err}");

    let mut lib = PatternLibrary::parse("x", "0-1").unwrap();
    lib.patterns[0].symbols.clear();
    let err = lib.validate(&digit_symbols(), 2).unwrap_err().to_string();
    assert!(err.contains("pattern 1 \"0-1\" is empty"), "{err}");

    // The builder reports the same errors.
    let lib = PatternLibrary::parse("digits", "0-1-2-3-4\n0-1-2-3-X\n").unwrap();
    let err = build_patterned(&small_digits(), &lib, &BuildConfig::default()).unwrap_err();
    assert!(
        err.to_string().contains("unknown symbol 'X' in pattern 2"),
        "{err}"
    );
}

#[test]
fn pattern_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my-cities.txt");
    std::fs::write(&path, "BOSTON\nMILTON\n").unwrap();
    let lib = PatternLibrary::from_file(&path).unwrap();
    assert_eq!(lib.name, "my-cities");
    assert_eq!(
        lib.class_counts(&letters()).unwrap()[1][b'M' as usize - b'A' as usize],
        1
    );
    let err = PatternLibrary::from_file(dir.path().join("missing.txt")).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

// ---------------------------------------------------------------- planner

/// All plans within the per-pattern bounds, by brute force: the best total, and among plans with
/// that total, the largest smallest count and then the smallest largest count (over patterns that
/// can be built at all).
fn brute_force(
    counts: &[Vec<u32>],
    avail: &[u32],
    cap: Option<u32>,
    min_share: f64,
) -> (u32, u32, u32) {
    let np = counts.len();
    let ub: Vec<u32> = counts
        .iter()
        .map(|row| {
            let by = row
                .iter()
                .zip(avail)
                .filter(|(c, _)| **c > 0)
                .map(|(c, a)| a / c)
                .min()
                .unwrap_or(u32::MAX);
            by.min(cap.unwrap_or(u32::MAX))
        })
        .collect();
    let active: Vec<usize> = (0..np).filter(|&p| ub[p] > 0).collect();
    let mut best = (0u32, 0u32, u32::MAX);
    let mut x = vec![0u32; np];
    loop {
        let fits =
            (0..avail.len()).all(|k| (0..np).map(|p| x[p] * counts[p][k]).sum::<u32>() <= avail[k]);
        let total: u32 = x.iter().sum();
        let floor = active
            .iter()
            .all(|&p| np as f64 * x[p] as f64 >= min_share * total as f64 - 1e-6);
        if fits && floor {
            let lo = active.iter().map(|&p| x[p]).min().unwrap_or(0);
            let hi = active.iter().map(|&p| x[p]).max().unwrap_or(0);
            if (total, lo, std::cmp::Reverse(hi)) > (best.0, best.1, std::cmp::Reverse(best.2)) {
                best = (total, lo, hi);
            }
        }
        // Next x in the box [0, ub].
        let mut p = 0;
        loop {
            if p == np {
                if best.2 == u32::MAX {
                    best.2 = 0;
                }
                return best;
            }
            if x[p] < ub[p] {
                x[p] += 1;
                break;
            }
            x[p] = 0;
            p += 1;
        }
    }
}

#[test]
fn planner_matches_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..400 {
        let np = rng.random_range(2..=4);
        let nk = rng.random_range(2..=5);
        let cap = if rng.random_bool(0.3) {
            Some(rng.random_range(0..=4))
        } else {
            None
        };
        let counts: Vec<Vec<u32>> = (0..np)
            .map(|_| {
                loop {
                    let row: Vec<u32> = (0..nk).map(|_| rng.random_range(0..=3)).collect();
                    if row.iter().any(|&c| c > 0) || cap.is_some() {
                        break row;
                    }
                }
            })
            .collect();
        let avail: Vec<u32> = (0..nk).map(|_| rng.random_range(0..=12)).collect();
        let min_share = [0.0, 0.0, 0.5, 1.0][rng.random_range(0..4)];
        for even in [false, true] {
            let opts = PlanOptions {
                cap,
                min_share,
                even,
                ..PlanOptions::default()
            };
            let got = plan(&counts, &avail, &opts).unwrap();
            let (total, lo, hi) = brute_force(&counts, &avail, cap, min_share);
            let ctx = format!("case {case}: counts {counts:?} avail {avail:?} {opts:?} → {got:?}");
            assert_eq!(got.total, total, "{ctx}");
            assert!(got.optimal, "{ctx}");
            assert!(got.upper_bound >= got.total, "{ctx}");
            assert_eq!(got.counts.iter().sum::<u32>(), got.total, "{ctx}");
            for k in 0..nk {
                let used: u32 = (0..np).map(|p| got.counts[p] * counts[p][k]).sum();
                assert_eq!(got.images_used[k], used, "{ctx}");
                assert!(used <= avail[k], "{ctx}");
            }
            if let Some(c) = cap {
                assert!(got.counts.iter().all(|&x| x <= c), "{ctx}");
            }
            if even {
                let ub_pos: Vec<usize> = (0..np)
                    .filter(|&p| {
                        cap != Some(0) && counts[p].iter().zip(&avail).all(|(&c, &a)| c <= a)
                    })
                    .collect();
                if ub_pos.len() > 1 && total > 0 {
                    let glo = ub_pos.iter().map(|&p| got.counts[p]).min().unwrap();
                    let ghi = ub_pos.iter().map(|&p| got.counts[p]).max().unwrap();
                    assert_eq!((glo, ghi), (lo, hi), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn planner_zero_infeasible_and_caps() {
    let opts = PlanOptions::default();
    // Nothing available.
    let p = plan(&[vec![1, 1], vec![2, 0]], &[0, 0], &opts).unwrap();
    assert_eq!((p.total, p.counts.clone()), (0, vec![0, 0]));
    // A pattern needing a missing class gets nothing; the other takes all it can.
    let p = plan(&[vec![1, 1], vec![2, 0]], &[9, 0], &opts).unwrap();
    assert_eq!(p.counts, vec![0, 4]);
    assert_eq!(p.images_used, vec![8, 0]);
    // No patterns.
    let p = plan(&[], &[5, 5], &opts).unwrap();
    assert_eq!(p.total, 0);
    // Caps.
    let capped = PlanOptions {
        cap: Some(3),
        ..opts.clone()
    };
    let p = plan(&[vec![1, 0], vec![0, 1]], &[100, 100], &capped).unwrap();
    assert_eq!(p.counts, vec![3, 3]);
    // Balance floor 1: all buildable patterns equal.
    let equal = PlanOptions {
        min_share: 1.0,
        ..opts.clone()
    };
    let p = plan(&[vec![1, 0], vec![0, 1]], &[100, 7], &equal).unwrap();
    assert_eq!(p.counts, vec![7, 7]);
    // Errors.
    assert!(matches!(
        plan(&[vec![1, 0, 0]], &[1, 1], &opts),
        Err(PlanError::Dimensions {
            pattern: 1,
            got: 3,
            expected: 2
        })
    ));
    assert!(matches!(
        plan(&[vec![0, 0]], &[1, 1], &opts),
        Err(PlanError::Unbounded { pattern: 1 })
    ));
    let bad = PlanOptions {
        min_share: 1.5,
        ..opts
    };
    assert!(matches!(
        plan(&[vec![1]], &[1], &bad),
        Err(PlanError::Options(_))
    ));
}

#[test]
fn full_mnist_counts_reach_the_paper() {
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    let counts = lib.class_counts(&digit_symbols()).unwrap();
    let p = plan(&counts, &MNIST_ALL, &PlanOptions::default()).unwrap();
    println!(
        "MNIST train+test, {} digit patterns, T=5: {} sequences (bound {}, optimal {}), {} of 70000 \
         images, solved in {:?}; counts {:?}",
        lib.len(),
        p.total,
        p.upper_bound,
        p.optimal,
        p.images_used.iter().sum::<u32>(),
        p.solve_time,
        p.counts
    );
    assert!(p.total >= 13_135, "{} < the paper's 13,135", p.total);
    assert!(p.optimal);
    // How fast it solves is measured by `cargo bench --bench pipeline`, not asserted here.
    let plain = PlanOptions {
        even: false,
        ..PlanOptions::default()
    };
    let q = plan(&counts, &MNIST_ALL, &plain).unwrap();
    println!(
        "  without evening out: {} in {:?}; counts {:?}",
        q.total, q.solve_time, q.counts
    );
    assert_eq!(q.total, p.total);

    // The builder on a synthetic MNIST: all images in one split, and the official split.
    let all = synthetic(digit_symbols(), &MNIST_ALL, &[0; 10]);
    let (set, plans) = build_patterned(&all, &lib, &BuildConfig::default()).unwrap();
    assert_eq!(set.len(Split::Train), plans.train.total as usize);
    assert!(plans.train.total >= 13_135);
    check_patterned(&all, &lib, &set);
    let split = synthetic(digit_symbols(), &MNIST_TRAIN, &MNIST_TEST);
    let (set, plans) = build_patterned(&split, &lib, &BuildConfig::default()).unwrap();
    println!(
        "MNIST planned per split: train {} ({:?}) + test {} ({:?}) = {}",
        plans.train.total,
        plans.train.solve_time,
        plans.test.total,
        plans.test.solve_time,
        plans.train.total + plans.test.total
    );
    print!("{}", set.summary(&split));
    assert!(plans.train.total + plans.test.total >= 13_135);
    check_patterned(&split, &lib, &set);
}

// ---------------------------------------------------------------- builder

/// The OCR letters' class counts (folds 0–7 and 8–9 of `ocr-letters/`): unbalanced (j 144, n
/// 4,010), so the city-name plan needs branch and bound.
const OCR_TRAIN: [u32; 26] = [
    3245, 1024, 1700, 1156, 3975, 748, 1989, 680, 3932, 144, 721, 2505, 1279, 4010, 3108, 1078,
    272, 2136, 1086, 1717, 2026, 539, 433, 341, 955, 880,
];
const OCR_TEST: [u32; 26] = [
    789, 260, 414, 286, 980, 173, 483, 181, 981, 45, 188, 635, 323, 1014, 789, 299, 69, 537, 308,
    419, 536, 125, 87, 72, 266, 214,
];

/// The plan is the same however busy the machine is: the searches stop after a number of nodes,
/// not after a time (with a time limit, four of these plans made at once came out in two
/// different plans).
#[test]
fn plans_do_not_depend_on_the_machines_load() {
    let lib = PatternLibrary::cities();
    let counts = lib.class_counts(&letters()).unwrap();
    let opts = PlanOptions::default();
    let alone: Vec<_> = [&OCR_TRAIN, &OCR_TEST]
        .map(|a| plan(&counts, a, &opts).unwrap().counts)
        .to_vec();
    let busy: Vec<Vec<Vec<u32>>> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    [&OCR_TRAIN, &OCR_TEST]
                        .map(|a| plan(&counts, a, &opts).unwrap().counts)
                        .to_vec()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for plans in busy {
        assert_eq!(plans, alone);
    }
}

/// Unbalanced splits favour different patterns: training has no C, test many C's and two B's.
/// Planned on its own, the test split is mostly "ACA" (never trained); with
/// `TestPatterns::Trained` it uses only what training got, and fewer of its images for it.
#[test]
fn the_test_split_can_be_kept_to_the_patterns_trained_on() {
    let names = vec!["A".to_string(), "B".to_string(), "C".to_string()];
    let images = synthetic(names, &[40, 40, 0], &[20, 2, 20]);
    let lib = PatternLibrary::parse("two", "ABA\nACA").unwrap();
    let build = |test_patterns| {
        let cfg = BuildConfig {
            t: 3,
            level_weights: vec![1.0],
            test_patterns,
            ..BuildConfig::default()
        };
        build_patterned(&images, &lib, &cfg).unwrap()
    };
    let (own, own_plans) = build(TestPatterns::All);
    assert_eq!(own_plans.train.counts, [20, 0], "train: ABA only (no C)");
    assert_eq!(
        own_plans.test.counts,
        [2, 8],
        "test on its own: 8 ACA, never trained"
    );
    let (kept, kept_plans) = build(TestPatterns::Trained);
    assert_eq!(
        kept_plans.train.counts, own_plans.train.counts,
        "training is planned the same"
    );
    assert_eq!(
        kept_plans.test.counts,
        [2, 0],
        "test: ABA only, as many as its 2 B's allow"
    );
    for (set, n) in [(&own, 10), (&kept, 2)] {
        assert_eq!(set.sequences_in(Split::Test).count(), n);
    }
    assert!(
        kept.sequences_in(Split::Test).all(|q| q.pattern == Some(0)),
        "every test sequence spells a trained pattern"
    );
}

#[test]
fn determinism() {
    let images = small_digits();
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    let cfg = BuildConfig {
        seed: 42,
        ..BuildConfig::default()
    };
    let (a, pa) = build_patterned(&images, &lib, &cfg).unwrap();
    let (b, pb) = build_patterned(&images, &lib, &cfg).unwrap();
    assert_eq!(a, b);
    assert_eq!(pa.train.counts, pb.train.counts);
    let other = BuildConfig {
        seed: 43,
        ..cfg.clone()
    };
    let (c, _) = build_patterned(&images, &lib, &other).unwrap();
    assert_ne!(a.sequences, c.sequences);
    assert_eq!(
        a.counts_per_pattern(Split::Train),
        c.counts_per_pattern(Split::Train)
    );
    assert_eq!(
        random_control(&images, &a, 1),
        random_control(&images, &a, 1)
    );
    assert_ne!(
        random_control(&images, &a, 1),
        random_control(&images, &a, 2)
    );
}

#[test]
fn splits_and_images_are_disjoint() {
    let images = synthetic(
        digit_symbols(),
        &[57, 61, 49, 70, 66, 52, 58, 63, 55, 60],
        &[13; 10],
    );
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    let (set, plans) = build_patterned(&images, &lib, &BuildConfig::default()).unwrap();
    check_patterned(&images, &lib, &set);
    for split in [Split::Train, Split::Test] {
        let per: Vec<u32> = set.counts_per_pattern(split);
        assert_eq!(per, plans.get(split).counts);
        assert!(set.sequences_in(split).all(|s| s.split == split));
    }
    // Train sequences come first.
    let first_test = set
        .sequences
        .iter()
        .position(|s| s.split == Split::Test)
        .unwrap();
    assert!(
        set.sequences[first_test..]
            .iter()
            .all(|s| s.split == Split::Test)
    );
}

#[test]
fn level_ratio_is_exact() {
    let images = synthetic(digit_symbols(), &[83; 10], &[21; 10]);
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    for weights in [vec![1.0; 5], vec![3.0, 1.0, 1.0, 0.0, 2.0]] {
        let cfg = BuildConfig {
            level_weights: weights.clone(),
            ..BuildConfig::default()
        };
        let (set, _) = build_patterned(&images, &lib, &cfg).unwrap();
        for split in [Split::Train, Split::Test] {
            let mut hist = [0usize; 6];
            for s in set.sequences_in(split) {
                for &v in &s.levels {
                    hist[v as usize] += 1;
                }
            }
            let n: usize = hist.iter().sum();
            let total: f64 = weights.iter().sum();
            assert_eq!(hist[0], 0);
            for (i, w) in weights.iter().enumerate() {
                let exact = n as f64 * w / total;
                assert!(
                    (hist[i + 1] as f64 - exact).abs() < 1.0,
                    "{weights:?} {split:?} {hist:?}"
                );
            }
            let r = random_control(&images, &set, 5);
            let mut hist_r = [0usize; 6];
            for s in r.sequences_in(split) {
                for &v in &s.levels {
                    hist_r[v as usize] += 1;
                }
            }
            assert_eq!(hist, hist_r);
        }
    }
    // No weights: unoccluded.
    let cfg = BuildConfig {
        level_weights: vec![],
        ..BuildConfig::default()
    };
    let (set, _) = build_patterned(&images, &lib, &cfg).unwrap();
    assert!(
        set.sequences
            .iter()
            .all(|s| s.levels.iter().all(|&v| v == 0))
    );
    let bad = BuildConfig {
        level_weights: vec![0.0, 0.0],
        ..BuildConfig::default()
    };
    assert!(build_patterned(&images, &lib, &bad).is_err());
    assert_eq!(level_counts(11, &[1.0; 5]).iter().sum::<usize>(), 11);
}

#[test]
fn random_control_uses_the_same_images() {
    let images = synthetic(digit_symbols(), &[45; 10], &[15; 10]);
    let lib = PatternLibrary::digits(&ProgressionOptions::with_t(7)).unwrap();
    let cfg = BuildConfig {
        t: 7,
        ..BuildConfig::default()
    };
    let (set, _) = build_patterned(&images, &lib, &cfg).unwrap();
    let control = random_control(&images, &set, 9);
    assert_eq!(control.ordering, Ordering::Random);
    assert_eq!(control.t, 7);
    for split in [Split::Train, Split::Test] {
        assert_eq!(control.len(split), set.len(split));
        let pairs = |s: &SequenceSet| {
            let mut v: Vec<(u32, u16, u8)> = s
                .sequences_in(split)
                .flat_map(|q| {
                    q.images
                        .iter()
                        .zip(&q.labels)
                        .zip(&q.levels)
                        .map(|((&i, &l), &v)| (i, l, v))
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(pairs(&set), pairs(&control), "{split:?}");
        assert!(
            control
                .sequences_in(split)
                .all(|s| s.pattern.is_none() && s.split == split)
        );
        for s in control.sequences_in(split) {
            for (&id, &l) in s.images.iter().zip(&s.labels) {
                assert_eq!(images.labels[id as usize], l);
            }
        }
    }
    // The control is not just the patterned order.
    assert_ne!(set.sequences[0].images, control.sequences[0].images);
}

#[test]
fn save_load_round_trip_limit_and_summary() {
    let images = small_digits();
    let lib = PatternLibrary::digits(&ProgressionOptions::default()).unwrap();
    let (set, _) = build_patterned(&images, &lib, &BuildConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.json");
    set.save(&path).unwrap();
    assert_eq!(SequenceSet::load(&path).unwrap(), set);
    let control = random_control(&images, &set, 3);
    control.save(&path).unwrap();
    assert_eq!(SequenceSet::load(&path).unwrap(), control);

    std::fs::write(
        &path,
        "{\"format\":\"something else\",\"version\":1,\"set\":null}",
    )
    .unwrap();
    assert!(SequenceSet::load(&path).is_err());
    let err = SequenceSet::load(dir.path().join("nope.json")).unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");

    let small = set.limit(4);
    assert_eq!((small.len(Split::Train), small.len(Split::Test)), (4, 4));
    assert_eq!(small.sequences[..4], set.sequences[..4]);

    let summary = set.summary(&images);
    assert_eq!(summary.per_pattern.len(), lib.len());
    assert_eq!(summary.splits[0].images_available, 600);
    assert_eq!(summary.splits[0].sequences, set.len(Split::Train));
    let text = summary.to_string();
    assert!(
        text.contains("0-1-2-3-4") && text.contains("Train"),
        "{text}"
    );
}

#[test]
fn the_random_control_hides_each_image_exactly_as_the_patterned_set_does() {
    use occlab::sequence::render::render_image;
    let images = occlab::data::embedded::embedded_digits().unwrap();
    let lib = PatternLibrary::digits(&ProgressionOptions::with_t(5)).unwrap();
    let cfg = BuildConfig {
        t: 5,
        seed: 9,
        ..BuildConfig::default()
    };
    let (patterned, _) = build_patterned(&images, &lib, &cfg).unwrap();
    let control = random_control(&images, &patterned, 9);
    let spec = occlab::occlusion::OcclusionSpec::paper_default();
    let mean = images.channel_means();
    let mut pixels = std::collections::HashMap::new();
    for s in &patterned.sequences {
        for pos in 0..s.images.len() {
            pixels.insert(s.images[pos], render_image(&images, s, pos, &spec, &mean));
        }
    }
    let mut checked = 0;
    for s in &control.sequences {
        for pos in 0..s.images.len() {
            assert_eq!(
                pixels[&s.images[pos]],
                render_image(&images, s, pos, &spec, &mean)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, pixels.len());
}
