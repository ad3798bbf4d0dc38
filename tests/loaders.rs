//! Loaders against the real files in the shared data folder, and every kind of bad input.

mod common;

use occlab::data::folder::{Fit, FolderOptions, Polarity, load_folder};
use occlab::data::idx::{self, IdxLayout};
use occlab::data::source::DataSource;
use occlab::data::{DataError, Split, cifar};
use std::io::Write;
use std::path::Path;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn message(e: DataError) -> String {
    e.to_string()
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn full_mnist_loads_with_official_counts() {
    let Some(dir) = common::data_dir("full_mnist_loads_with_official_counts") else {
        return;
    };
    let set = idx::load_dir(&dir.join("mnist"), "MNIST", None, IdxLayout::Standard).unwrap();
    assert_eq!((set.height, set.width, set.channels), (28, 28, 1));
    assert_eq!(set.indices(Split::Train).len(), 60_000);
    assert_eq!(set.indices(Split::Test).len(), 10_000);
    // The official per-class counts of MNIST's training and test files.
    assert_eq!(
        set.class_counts(Some(Split::Train)),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        set.class_counts(Some(Split::Test)),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Light ink on black: the border of the first image is black, its centre has ink.
    let img = set.image(0);
    assert_eq!(img[0], 0);
    assert!(img.iter().any(|&p| p > 200));
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn mnist_with_a_label_outside_its_ten_classes_is_refused_naming_file_and_record() {
    let Some(data) = common::data_dir(
        "mnist_with_a_label_outside_its_ten_classes_is_refused_naming_file_and_record",
    ) else {
        return;
    };
    // The real MNIST files, with record 5 of the test labels set to 200 (issue 16: such a file
    // used to load as a 201-class set and train at loss 5.2).
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ] {
        std::fs::copy(data.join("mnist").join(f), dir.path().join(f)).unwrap();
    }
    let labels_path = data.join("mnist/t10k-labels-idx1-ubyte.gz");
    let mut labels = idx::read_maybe_gz(&labels_path).unwrap();
    labels[8 + 5] = 200;
    write(dir.path(), "t10k-labels-idx1-ubyte.gz", &gz(&labels));
    let source = DataSource::Idx {
        path: dir.path().to_path_buf(),
        prefix: None,
        layout: IdxLayout::Standard,
        name: "MNIST".into(),
    };
    let e = message(source.load(None).unwrap_err());
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz")
            && e.contains("record 5")
            && e.contains("label 200")
            && e.contains("10 classes"),
        "{e}"
    );
    // A label file whose labels are all in range loads (the same copy with the label restored).
    labels[8 + 5] = 3;
    write(dir.path(), "t10k-labels-idx1-ubyte.gz", &gz(&labels));
    assert_eq!(source.load(None).unwrap().num_classes(), 10);
}

#[test]
fn idx_labels_beyond_the_promised_classes_are_refused_for_every_layout() {
    let dir = tempfile::tempdir().unwrap();
    let img = write(
        dir.path(),
        "images",
        &idx::encode_images(2, 2, 2, &[1u8; 8]),
    );
    for (layout, label, want) in [
        (
            IdxLayout::Standard,
            10u8,
            "label 10, outside 0–9 (10 classes)",
        ),
        (
            IdxLayout::EmnistTransposed,
            62,
            "label 62, outside 0–61 (62 classes)",
        ),
        (IdxLayout::EmnistLetters, 27, "label 27, outside 1–26"),
        (IdxLayout::EmnistLetters, 0, "label 0, outside 1–26"),
    ] {
        let lab = write(dir.path(), "bad-labels", &idx::encode_labels(&[1, label]));
        let e = message(idx::load_pair("t", &img, &lab, layout, None, Split::Train).unwrap_err());
        assert!(
            e.contains("bad-labels") && e.contains("record 1") && e.contains(want),
            "{layout:?}: {e}"
        );
    }
    // EMNIST balanced promises 47 classes: 46 loads, 47 does not.
    assert_eq!(
        idx::promised_classes(Some("emnist-balanced"), IdxLayout::EmnistTransposed),
        47
    );
    assert_eq!(
        idx::promised_classes(Some("emnist-digits"), IdxLayout::EmnistTransposed),
        10
    );
    let names: Vec<String> = (0..47).map(|c| c.to_string()).collect();
    let ok = write(dir.path(), "ok-labels", &idx::encode_labels(&[0, 46]));
    let set = idx::load_pair(
        "t",
        &img,
        &ok,
        IdxLayout::EmnistTransposed,
        Some(names.clone()),
        Split::Train,
    )
    .unwrap();
    assert_eq!(set.num_classes(), 47);
    let bad = write(dir.path(), "bad-labels", &idx::encode_labels(&[0, 47]));
    assert!(
        idx::load_pair(
            "t",
            &img,
            &bad,
            IdxLayout::EmnistTransposed,
            Some(names),
            Split::Train
        )
        .is_err()
    );
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn cifar10_batches_load_with_class_names() {
    let Some(dir) = common::data_dir("cifar10_batches_load_with_class_names") else {
        return;
    };
    let set = cifar::load_dir(&dir.join("cifar10")).unwrap();
    assert_eq!((set.height, set.width, set.channels), (32, 32, 3));
    assert_eq!(set.class_names[0], "airplane");
    assert_eq!(set.class_names[9], "truck");
    // All of CIFAR-10: five training batches of 10,000 (5,000 per class), the test batch.
    assert_eq!(set.class_counts(Some(Split::Train)), vec![5000; 10]);
    assert_eq!(set.indices(Split::Train).len(), 50_000);
    assert_eq!(set.class_counts(Some(Split::Test)), vec![1000; 10]);
    // Channels interleaved: the image is not grey (R, G and B differ somewhere).
    let img = set.image(0);
    assert!(img.chunks(3).any(|p| p[0] != p[1] || p[1] != p[2]));
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn omniglot_letter_folders_load_as_dark_background_28px() {
    let Some(dir) = common::data_dir("omniglot_letter_folders_load_as_dark_background_28px") else {
        return;
    };
    let set = load_folder(&dir.join("omniglot-latin"), &FolderOptions::default()).unwrap();
    assert_eq!(set.num_classes(), 26);
    assert_eq!(set.class_names[0], "a");
    assert_eq!(set.len(), 520);
    assert_eq!(set.class_counts(None), vec![20; 26]);
    assert_eq!((set.height, set.width, set.channels), (28, 28, 1));
    for i in 0..set.len() {
        let img = set.image(i);
        assert_eq!(img[0], 0, "image {i}: corner should be background (black)");
        assert!(img.iter().any(|&p| p > 128), "image {i}: no ink");
    }
    // 20 % of each class goes to the seeded test split.
    assert_eq!(set.class_counts(Some(Split::Test)), vec![4; 26]);
}

#[test]
fn emnist_layout_images_come_out_upright_with_letters_from_zero() {
    // An "L" drawn upright: a vertical stroke on the left, a horizontal one at the bottom.
    let (rows, cols) = (6, 6);
    let mut upright = vec![0u8; rows * cols];
    for r in 0..rows {
        upright[r * cols + 1] = 255;
    }
    for c in 1..cols {
        upright[(rows - 1) * cols + c] = 255;
    }
    // EMNIST stores the transpose.
    let mut stored = vec![0u8; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            stored[c * rows + r] = upright[r * cols + c];
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (ip, lp) = (dir.path().join("img.gz"), dir.path().join("lab"));
    std::fs::write(&ip, gz(&idx::encode_images(1, rows, cols, &stored))).unwrap();
    std::fs::write(&lp, idx::encode_labels(&[12])).unwrap(); // 12 = "L"
    let set = idx::load_pair(
        "EMNIST",
        &ip,
        &lp,
        IdxLayout::EmnistLetters,
        None,
        Split::Train,
    )
    .unwrap();
    assert_eq!(set.image(0), &upright[..]);
    assert_eq!(set.labels, vec![11]);
    assert_eq!(set.class_names[11], "L");
    assert_eq!(set.num_classes(), 26);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_idx_files_give_errors_naming_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good_img = idx::encode_images(3, 4, 4, &[7u8; 48]);
    let good_lab = idx::encode_labels(&[0, 1, 2]);
    let lab = write(dir.path(), "labels", &good_lab);
    let check = |name: &str, bytes: &[u8], want: &str| {
        let p = write(dir.path(), name, bytes);
        let e = message(
            idx::load_pair("t", &p, &lab, IdxLayout::Standard, None, Split::Train).unwrap_err(),
        );
        assert!(e.contains(name), "error should name the file {name}: {e}");
        assert!(
            e.contains(want),
            "error for {name} should say {want:?}: {e}"
        );
    };
    check("truncated", &good_img[..30], "truncated");
    check("tiny", &good_img[..3], "truncated");
    let mut wrong_magic = good_img.clone();
    wrong_magic[3] = 0x01;
    check("wrong-magic", &wrong_magic, "wrong magic");
    let mut trailing = good_img.clone();
    trailing.extend_from_slice(&[0; 5]);
    check("trailing", &trailing, "trailing");
    // A hostile header: 2^32-1 × 2^32-1 × 2^32-1 must not allocate, overflow or panic.
    let mut absurd = good_img[..4].to_vec();
    absurd.extend_from_slice(&[0xff; 12]);
    check("absurd", &absurd, "absurd dimensions");
    // Large but non-overflowing dimensions that exceed the file.
    check(
        "huge",
        &idx::encode_images(100_000, 28, 28, &[0; 16]),
        "truncated",
    );
    let mut corrupt_gz = gz(&good_img);
    let n = corrupt_gz.len();
    corrupt_gz.truncate(n - 10);
    check("corrupt.gz", &corrupt_gz, "gzip");
    // Count mismatch: 3 images, 2 labels — the label file is named.
    let img = write(dir.path(), "images", &good_img);
    let short = write(dir.path(), "short-labels", &idx::encode_labels(&[0, 1]));
    let e = message(
        idx::load_pair("t", &img, &short, IdxLayout::Standard, None, Split::Train).unwrap_err(),
    );
    assert!(
        e.contains("short-labels") && e.contains("2 labels but") && e.contains("3 images"),
        "{e}"
    );
    // Missing file.
    let e = message(
        idx::load_pair(
            "t",
            &dir.path().join("nope"),
            &lab,
            IdxLayout::Standard,
            None,
            Split::Train,
        )
        .unwrap_err(),
    );
    assert!(e.contains("nope"), "{e}");
    // EMNIST letters with a label outside 1–26.
    let zero = write(dir.path(), "zero-label", &idx::encode_labels(&[0, 1, 2]));
    let e = message(
        idx::load_pair(
            "t",
            &img,
            &zero,
            IdxLayout::EmnistLetters,
            None,
            Split::Train,
        )
        .unwrap_err(),
    );
    assert!(
        e.contains("zero-label") && e.contains("outside 1–26"),
        "{e}"
    );
}

#[test]
fn bad_cifar_batches_give_errors_naming_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let e = message(cifar::load_dir(dir.path()).unwrap_err());
    assert!(e.contains("no CIFAR-10 binary batches"), "{e}");
    let mut rec = vec![3u8];
    rec.extend(vec![9u8; 3072]);
    let mut two = rec.clone();
    two.extend_from_slice(&rec[..100]);
    write(dir.path(), "data_batch_1.bin", &two);
    let e = message(cifar::load_dir(dir.path()).unwrap_err());
    assert!(
        e.contains("data_batch_1.bin") && e.contains("not a whole number"),
        "{e}"
    );
    let mut bad_label = rec.clone();
    bad_label[0] = 11;
    write(dir.path(), "data_batch_1.bin", &bad_label);
    let e = message(cifar::load_dir(dir.path()).unwrap_err());
    assert!(
        e.contains("data_batch_1.bin") && e.contains("label 11"),
        "{e}"
    );
    write(dir.path(), "data_batch_1.bin", &rec);
    write(dir.path(), "test_batch.bin", &[]);
    let e = message(cifar::load_dir(dir.path()).unwrap_err());
    assert!(e.contains("test_batch.bin") && e.contains("empty"), "{e}");
    write(dir.path(), "test_batch.bin", &rec);
    let set = cifar::load_dir(dir.path()).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.labels, vec![3, 3]);
    assert_eq!(set.splits, vec![Split::Train, Split::Test]);
}

#[test]
fn bad_image_folders_give_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FolderOptions {
        fit: Fit::Resize,
        polarity: Polarity::Keep,
        ..Default::default()
    };
    let e = message(load_folder(dir.path(), &opts).unwrap_err());
    assert!(e.contains("no class sub-folders"), "{e}");
    std::fs::create_dir(dir.path().join("cat")).unwrap();
    let e = message(load_folder(dir.path(), &opts).unwrap_err());
    assert!(e.contains("cat") && e.contains("empty class folder"), "{e}");
    write(
        &dir.path().join("cat"),
        "broken.png",
        b"\x89PNG\r\n\x1a\nnot really a png",
    );
    let e = message(load_folder(dir.path(), &opts).unwrap_err());
    assert!(
        e.contains("broken.png") && e.contains("unreadable image"),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("cat/broken.png")).unwrap();
    let img = image::RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]));
    img.save(dir.path().join("cat/red.png")).unwrap();
    let rgb = FolderOptions {
        channels: 3,
        height: 16,
        width: 16,
        ..opts.clone()
    };
    let set = load_folder(dir.path(), &rgb).unwrap();
    assert_eq!(
        (set.height, set.width, set.channels, set.len()),
        (16, 16, 3, 1)
    );
    assert_eq!(&set.image(0)[..3], &[200, 10, 10]);
    let e = message(
        load_folder(
            dir.path(),
            &FolderOptions {
                channels: 2,
                ..opts
            },
        )
        .unwrap_err(),
    );
    assert!(e.contains("only 1 or 3"), "{e}");
}
