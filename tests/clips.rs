//! Clip data (paper B): the frame-folder loader on the real action clips and on folders with
//! official split lists, sampling and subsequence cutting, the per-video averaging of subsequence
//! probabilities, the generated motion clips, and a short training run on them.

mod common;

use occlab::data::Split;
use occlab::data::clips::{
    ClipOptions, ClipSplit, average_video_probabilities, clip_group, frame_strip, list_clips,
    load_clips,
};
use occlab::data::folder::{Fit, FolderOptions, Polarity, load_one};
use occlab::data::motion::{Motion, MotionConfig, generate_motion};
use occlab::data::source::DataSource;
use occlab::experiment::dataset;
use occlab::experiment::preset::{
    ClipOutput, LibrarySpec, ModelSpec, OrderingSpec, Preset, SequenceSpec,
};
use occlab::experiment::run::{LogLine, RunDir};
use occlab::experiment::training;
use occlab::model::ModelKind;
use occlab::model::rrn::SkipType;
use occlab::occlusion::OcclusionSpec;
use occlab::sequence::clip_data::render_clip_sequences;
use occlab::train::clip_eval::{clip_metrics, video_predictions};
use occlab::train::{BackendChoice, TrainConfig, engine};
use std::path::Path;

const CLASSES: [&str; 4] = [
    "ApplyEyeMakeup",
    "ArmWrestling",
    "Basketball",
    "PoolCleaning",
];
const FRAMES: [usize; 4] = [164, 280, 300, 300];

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn the_real_action_clips_load_sampled_every_tenth_frame() {
    let Some(data) = common::data_dir("the_real_action_clips_load") else {
        return;
    };
    let root = data.join("action-clips");
    let opts = ClipOptions::default();
    let set = load_clips(&root, &opts).unwrap();
    assert_eq!(set.frames.class_names, CLASSES);
    assert_eq!(set.videos.len(), 4);
    assert_eq!(
        (set.frames.height, set.frames.width, set.frames.channels),
        (60, 80, 3)
    );
    let mut next = 0;
    for (v, (video, frames)) in set.videos.iter().zip(FRAMES).enumerate() {
        assert_eq!(video.class, v as u16);
        assert_eq!(video.name, format!("{0}/{0}_clip01", CLASSES[v]));
        assert_eq!(video.folder_frames, frames);
        assert_eq!(video.frame_numbers.len(), frames.div_ceil(10));
        assert!(
            video
                .frame_numbers
                .iter()
                .enumerate()
                .all(|(i, &n)| n == 10 * i as u32)
        );
        assert_eq!(
            video.frames,
            (next..next + video.frames.len() as u32).collect::<Vec<_>>()
        );
        next += video.frames.len() as u32;
        // One clip per class, one group each: the group split keeps them all for training.
        assert_eq!(video.split, Split::Train);
    }
    assert_eq!(set.frames.len(), 17 + 28 + 30 + 30);
    // A sampled frame is the decoded file, resized.
    let folder = FolderOptions {
        height: 60,
        width: 80,
        channels: 3,
        polarity: Polarity::Keep,
        fit: Fit::Resize,
        test_fraction: 0.0,
        seed: 0,
    };
    let basketball = &set.videos[2];
    let file = root.join("Basketball/Basketball_clip01/frame_00021.jpg");
    assert_eq!(basketball.files[20], file);
    let pixels = load_one(&file, &folder).unwrap();
    assert_eq!(set.frames.image(basketball.frames[2] as usize), &pixels[..]);
    assert!(pixels.iter().any(|&p| p > 30) && pixels.iter().any(|&p| p < 200));

    // The time split gives every video a test part: its last 30 % of sampled frames.
    let timed = ClipOptions {
        split_by: ClipSplit::Time,
        sample_every: 1,
        channels: 1,
        ..ClipOptions::default()
    };
    let (_, videos) = list_clips(&root, &timed).unwrap();
    assert_eq!(videos.len(), 8);
    let first = &videos[0..2];
    assert_eq!(
        (first[0].frames.len(), first[1].frames.len()),
        (115, 49),
        "164 frames: 115 train, 49 test"
    );
    assert_eq!(
        (first[0].split, first[1].split),
        (Split::Train, Split::Test)
    );
    assert_eq!(first[1].frame_numbers[0], 115);

    // The Data panel's strip: folder frames 1–12, every 10th marked.
    let strip = frame_strip(&set.videos[0], &opts, 0, 12).unwrap();
    assert_eq!(strip.len(), 12);
    let marked: Vec<u32> = strip
        .iter()
        .filter(|f| f.sampled)
        .map(|f| f.position)
        .collect();
    assert_eq!(marked, vec![0, 10]);
    assert_eq!(strip[0].pixels, set.frames.image(0));
}

#[test]
#[ignore = "reads the real data sets: needs OCCLAB_DATA_DIR; .ci/run runs it with --ignored"]
fn the_real_clips_train_an_rrn_end_to_end() {
    let Some(data) = common::data_dir("the_real_clips_train_an_rrn") else {
        return;
    };
    let preset = Preset::load(Path::new("presets/paper-b/b-action-clips-rrn.toml")).unwrap();
    let prepared = dataset::prepare(&preset, Some(&data)).unwrap();
    let clips = prepared.clips.as_ref().unwrap();
    assert_eq!(
        clips.videos.len(),
        8,
        "4 videos, each cut in a train and a test part"
    );
    assert!(prepared.sequences.len(Split::Test) > 0);
    let dir = tempfile::tempdir().unwrap();
    let mut p = preset.clone();
    p.train.as_mut().unwrap().epochs = 1;
    let run = RunDir::create(&dir.path().join("run"), &p).unwrap();
    let (_tx, rx) = crossbeam_channel::unbounded();
    let sink = engine::EventSink {
        tx: crossbeam_channel::unbounded().0,
        notify: None,
    };
    training::train(&prepared, &run, BackendChoice::Flex, false, &sink, &rx).unwrap();
    let clip = run.clip_epochs().unwrap();
    assert_eq!(clip.len(), 1);
    assert_eq!(clip[0].test.videos.total, 4, "one test part per video");
}

/// Writes a tiny clip tree (`classes` × `clips` clips of `frames` 8×8 PNG frames).
fn write_clips(root: &Path, classes: &[&str], clips: &[&str], frames: usize) {
    for (c, class) in classes.iter().enumerate() {
        for clip in clips {
            let dir = root.join(class).join(format!("v_{class}_{clip}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..frames {
                let img = image::GrayImage::from_fn(8, 8, |x, _| {
                    image::Luma([((x as usize * 30 + f * 5 + c * 40) % 256) as u8])
                });
                img.save(dir.join(format!("frame_{:05}.png", f + 1)))
                    .unwrap();
            }
        }
    }
}

#[test]
fn official_split_lists_and_clip_groups_decide_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("frames");
    let groups = ["g01_c01", "g01_c02", "g02_c01", "g03_c01", "g04_c01"];
    write_clips(&root, &["Jump", "Run"], &groups, 12);
    let opts = ClipOptions {
        height: 8,
        width: 8,
        channels: 1,
        sample_every: 5,
        test_fraction: 0.5,
        seed: 3,
        ..ClipOptions::default()
    };
    // No lists: a seeded split by group, whole groups on one side.
    let (classes, videos) = list_clips(&root, &opts).unwrap();
    assert_eq!(classes, ["Jump", "Run"]);
    assert_eq!(videos.len(), 10);
    assert!(videos.iter().all(|v| v.frame_numbers == [0, 5, 10]));
    for class in 0..2u16 {
        let of = |g: &str| {
            videos
                .iter()
                .find(|v| v.class == class && v.name.contains(g))
                .unwrap()
                .split
        };
        assert_eq!(of("g01_c01"), of("g01_c02"), "one group, one side");
        let tests: usize = ["g01_c01", "g02", "g03", "g04"]
            .iter()
            .filter(|g| of(g) == Split::Test)
            .count();
        assert_eq!(tests, 2, "half of the 4 groups");
    }
    assert_eq!(clip_group("v_Jump_g03_c01"), "g03");
    let again = list_clips(&root, &opts).unwrap().1;
    assert_eq!(again, videos, "seeded");

    // Official lists in ucfTrainTestlist beside the frames win.
    let lists = dir.path().join("ucfTrainTestlist");
    std::fs::create_dir_all(&lists).unwrap();
    let mut train = String::new();
    let mut test = String::new();
    for class in ["Jump", "Run"] {
        for g in groups {
            let line = format!("{class}/v_{class}_{g}.avi");
            if g.starts_with("g04") {
                test.push_str(&format!("{line}\n"));
            } else {
                train.push_str(&format!("{line} 1\n"));
            }
        }
    }
    std::fs::write(lists.join("trainlist01.txt"), &train).unwrap();
    std::fs::write(lists.join("testlist01.txt"), &test).unwrap();
    let set = load_clips(&root, &opts).unwrap();
    for v in &set.videos {
        let want = if v.name.contains("g04") {
            Split::Test
        } else {
            Split::Train
        };
        assert_eq!(v.split, want, "{}", v.name);
    }
    assert_eq!(set.frames.split_len(Split::Test), 2 * 3);
    // A clip missing from both lists is named.
    std::fs::write(lists.join("testlist01.txt"), "").unwrap();
    let err = list_clips(&root, &opts).unwrap_err().to_string();
    assert!(
        err.contains("v_Jump_g04_c01") && err.contains("testlist01.txt"),
        "{err}"
    );
    // Other bad input is named too.
    let err = list_clips(&dir.path().join("nothing"), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nothing"), "{err}");
    let bad = ClipOptions {
        sample_every: 0,
        ..opts.clone()
    };
    assert!(
        list_clips(&root, &bad)
            .unwrap_err()
            .to_string()
            .contains("sample_every")
    );
    std::fs::remove_dir_all(&lists).unwrap();
    std::fs::create_dir_all(root.join("Swim/v_Swim_g01_c01")).unwrap();
    let err = list_clips(&root, &opts).unwrap_err().to_string();
    assert!(
        err.contains("v_Swim_g01_c01") && err.contains("frames"),
        "{err}"
    );
}

#[test]
fn a_videos_prediction_averages_its_subsequences() {
    // Three subsequences of video 0, one of video 2, none of video 1; two classes.
    let probs = [0.9, 0.1, 0.2, 0.8, 0.4, 0.6, 0.3, 0.7];
    let video_of = [0, 0, 2, 0];
    let avg = average_video_probabilities(&probs, 2, &video_of, 3);
    let v0 = avg[0].as_ref().unwrap();
    assert!((v0[0] - (0.9 + 0.2 + 0.3) / 3.0).abs() < 1e-6);
    assert!((v0[1] - (0.1 + 0.8 + 0.7) / 3.0).abs() < 1e-6);
    assert_eq!(avg[1], None);
    assert_eq!(avg[2].as_deref(), Some(&[0.4, 0.6][..]));
    // The majority of subsequences (2 of 3 say class 1) and the average (class 1, 0.533) agree
    // here; a confident minority can outvote: [0.99, 0.01], [0.4, 0.6], [0.4, 0.6] → class 0.
    let avg = average_video_probabilities(&[0.99, 0.01, 0.4, 0.6, 0.4, 0.6], 2, &[0, 0, 0], 1);
    assert!(avg[0].as_ref().unwrap()[0] > 0.5);
}

/// A small RRN (linear temporal skip) that trains in seconds on the motion clips.
fn tiny_rrn() -> ModelSpec {
    ModelSpec {
        widths: [4, 8, 8, 8],
        units: [1, 1, 1, 2],
        skip: SkipType::Linear,
        ..ModelSpec::new(ModelKind::Rrn)
    }
}

fn motion_preset(per_class: usize, t: usize, per_video: Option<usize>) -> Preset {
    Preset {
        name: "motion-test".into(),
        description: String::new(),
        data: DataSource::Motion {
            config: MotionConfig {
                per_class,
                frames: 8,
                size: 24,
                motions: vec![Motion::Left, Motion::Right, Motion::Grow, Motion::Shrink],
                seed: 4,
                test_fraction: 0.25,
                ..MotionConfig::default()
            },
        },
        occlusion: OcclusionSpec::paper_default(),
        sequences: SequenceSpec {
            t,
            ordering: OrderingSpec::Patterned,
            patterns: LibrarySpec::Clips {
                per_video,
                output: ClipOutput::Last,
                occlude: true,
            },
            seed: 9,
            cap: None,
            min_share: 0.0,
            limit: None,
            test_patterns: Default::default(),
        },
        model: None,
        train: None,
    }
}

#[test]
fn motion_clips_are_seeded_and_cut_into_subsequences() {
    let cfg = MotionConfig {
        per_class: 5,
        size: 24,
        ..MotionConfig::default()
    };
    let a = generate_motion(&cfg).unwrap();
    let b = generate_motion(&cfg).unwrap();
    assert_eq!(a, b, "same seed, same clips");
    let c = generate_motion(&MotionConfig {
        seed: 2,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(a.frames.pixels, c.frames.pixels);
    assert_eq!(a.frames.len(), 8 * 5 * 8);
    assert_eq!(a.frames.class_names[4], "rotate cw");
    assert_eq!(a.videos, cfg.videos().unwrap(), "listing = generation");
    // 5 per class, 20 % test: the last clip of each class.
    assert_eq!(a.frames.split_len(Split::Test), 8 * 8);
    // Frames change over a clip, and the digit is there.
    let v = &a.videos[0];
    assert_ne!(
        a.frames.image(v.frames[0] as usize),
        a.frames.image(v.frames[7] as usize)
    );
    assert!(
        a.frames
            .image(v.frames[3] as usize)
            .iter()
            .filter(|&&p| p > 128)
            .count()
            > 20
    );
    let err = generate_motion(&MotionConfig {
        motions: vec![],
        ..cfg.clone()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("motion clips") && err.contains("no motions"),
        "{err}"
    );

    // M = 3 subsequences of 4 frames from 8-frame clips: starts 0, 2, 4.
    let p = motion_preset(6, 4, Some(3));
    let prepared = dataset::prepare(&p, None).unwrap();
    let clips = prepared.clips.as_ref().unwrap();
    let seqs = &prepared.sequences.sequences;
    assert_eq!(seqs.len(), 4 * 6 * 3);
    assert_eq!(
        prepared.sequences.len(Split::Train),
        4 * 4 * 3,
        "4 train clips per class"
    );
    for (s, (&v, &start)) in seqs.iter().zip(clips.video_of.iter().zip(&clips.starts)) {
        let video = &clips.videos[v as usize];
        assert_eq!(s.split, video.split);
        assert!(s.labels.iter().all(|&l| l == video.class));
        assert!([0, 2, 4].contains(&start));
        assert_eq!(s.images, video.frames[start as usize..start as usize + 4]);
        assert!(
            s.levels
                .iter()
                .all(|&l| l == clips.levels[v as usize] && l >= 1)
        );
    }
    let summary = prepared.summary(&p);
    assert_eq!(summary.per_pattern[0].0, "left");
    // One occluder per video: on white frames, the hidden pixels are the same in every frame.
    let mut white = (*prepared.images).clone();
    white.pixels.fill(255);
    let ids: Vec<usize> = (0..seqs.len()).collect();
    let px = render_clip_sequences(&white, seqs, clips, &ids, &p.occlusion);
    let per = 24 * 24;
    for (k, seq_px) in px.chunks(4 * per).enumerate() {
        let first = &seq_px[..per];
        assert!(first.contains(&0), "sequence {k} is occluded");
        assert!(seq_px.chunks(per).all(|f| f == first), "sequence {k}");
    }
    // Two subsequences of one video show the same occluder.
    let twin = (1..seqs.len())
        .find(|&j| clips.video_of[j] == clips.video_of[0])
        .unwrap();
    assert_eq!(&px[..per], &px[twin * 4 * per..twin * 4 * per + per]);

    // The shuffled control keeps each subsequence's frames, in another order.
    let mut shuffled = p.clone();
    shuffled.sequences.ordering = OrderingSpec::Random;
    let control = dataset::prepare(&shuffled, None).unwrap();
    let mut reordered = 0;
    for (a, b) in seqs.iter().zip(&control.sequences.sequences) {
        let (mut x, mut y) = (a.images.clone(), b.images.clone());
        reordered += (x != y) as usize;
        x.sort();
        y.sort();
        assert_eq!(x, y);
    }
    assert!(reordered > seqs.len() / 2);
    // The contact sheet (`occlab dataset --sheet`) shows the same: one occluder per row.
    let sheet = prepared.contact_sheet(&p, 3, true);
    let (cell_w, cell_h) = (24 * 3 + 4, 24 * 3 + 6 + 2 + 4);
    assert_eq!(sheet.dimensions(), (4 * cell_w + 4, 3 * cell_h + 4));
    for row in 0..3u32 {
        let tinted = |frame: u32| -> Vec<(u32, u32)> {
            let (x0, y0) = (4 + frame * cell_w, 4 + row * cell_h);
            let level_bar = *sheet.get_pixel(x0, y0 + 24 * 3 + 2);
            let tint = level_bar.0.map(|c| (c as u16 * 2 / 3) as u8);
            (0..72)
                .flat_map(|y| (0..72).map(move |x| (x, y)))
                .filter(|&(x, y)| sheet.get_pixel(x0 + x, y0 + y).0 == tint)
                .collect()
        };
        let first = tinted(0);
        assert!(first.len() > 50, "row {row}: the occluder is tinted");
        for frame in 1..4 {
            assert_eq!(tinted(frame), first, "row {row}, frame {frame}");
        }
    }
    // Without M: every non-overlapping subsequence (8 frames / 3 = 2 each).
    let all = dataset::prepare(&motion_preset(2, 3, None), None).unwrap();
    assert_eq!(all.sequences.sequences.len(), 4 * 2 * 2);
    // A preset that does not cut clips is told what to write.
    let mut wrong = motion_preset(2, 3, None);
    wrong.sequences.patterns = LibrarySpec::Cities;
    let err = dataset::prepare(&wrong, None).unwrap_err().to_string();
    assert!(err.contains("library = \"clips\""), "{err}");
}

#[test]
fn video_metrics_count_videos_once() {
    let p = motion_preset(4, 4, Some(2));
    let prepared = dataset::prepare(&p, None).unwrap();
    let clips = prepared.clips.as_ref().unwrap();
    let test: Vec<usize> = (0..prepared.sequences.sequences.len())
        .filter(|&i| prepared.sequences.sequences[i].split == Split::Test)
        .collect();
    // Probabilities that favour the true class for every subsequence.
    let probs: Vec<f32> = test
        .iter()
        .flat_map(|&i| {
            let truth = prepared.sequences.sequences[i].labels[0] as usize;
            (0..4).map(move |c| if c == truth { 0.7 } else { 0.1 })
        })
        .collect();
    let videos = video_predictions(&probs, 4, &test, clips);
    assert_eq!(videos.len(), 4, "one test clip per class");
    assert!(
        videos
            .iter()
            .all(|v| v.subsequences == 2 && v.truth == v.predicted)
    );
    let m = clip_metrics(&[], &videos, 4, 5);
    assert_eq!((m.videos.correct, m.videos.total), (4, 4));
    assert_eq!(m.video_error(), 0.0);
}

#[test]
fn an_rrn_trains_on_motion_clips_and_reports_video_accuracy() {
    let mut p = motion_preset(12, 4, Some(2));
    p.model = Some(tiny_rrn());
    p.train = Some(TrainConfig {
        epochs: 2,
        batch_size: 8,
        seed: 5,
        ..TrainConfig::default()
    });
    let prepared = dataset::prepare(&p, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(&dir.path().join("run"), &p).unwrap();
    let (_ctl, rx) = crossbeam_channel::unbounded();
    let (tx, events) = crossbeam_channel::unbounded();
    let sink = engine::EventSink { tx, notify: None };
    training::train(&prepared, &run, BackendChoice::Flex, false, &sink, &rx).unwrap();
    let log = run.log().unwrap();
    let clip_lines: Vec<_> = log
        .iter()
        .filter_map(|l| match l {
            LogLine::Clips(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(clip_lines.len(), 2);
    let last = &clip_lines[1].test;
    assert_eq!(last.videos.total, 4 * 3, "3 test clips per class");
    assert_eq!(last.subsequences.total, 4 * 3 * 2);
    assert_eq!(clip_lines[1].train_subsequences.total, 4 * 9 * 2);
    let epochs = run.epochs().unwrap();
    assert_eq!(
        epochs[1].test.overall.total,
        4 * 3 * 2,
        "one prediction per subsequence"
    );
    assert!(
        events
            .try_iter()
            .any(|e| matches!(e, engine::TrainEvent::Clips(_)))
    );
    // The trained run scores the same on its own test split.
    let report = training::evaluate_run(&run, &prepared, &p, BackendChoice::Flex).unwrap();
    assert_eq!(report.clips.unwrap(), last.clone());
    assert_eq!(run.predictions().unwrap().len(), 4 * 3 * 2);
}

/// On a GPU clip evaluation fills its last batch up to the batch's shape and ignores the extra
/// rows (as `evaluate` does): the subsequences, videos and loss are those of plain batches (both
/// ways run on flex here), and the loss, computed from the logits read back, is the clip loss.
#[test]
fn clip_evaluation_scores_the_same_whether_the_last_batch_is_filled_up_or_not() {
    use burn::tensor::{Device, Int, Tensor, TensorData};
    use occlab::experiment::showcase::presentation_order;
    use occlab::sequence::clip_data::ClipOutput;
    use occlab::train::batches::SequenceData;
    use occlab::train::clip_eval::{clip_cross_entropy, evaluate_clips};
    use occlab::train::eval::EvalBatches;

    let mut p = motion_preset(6, 4, Some(3));
    p.model = Some(tiny_rrn());
    let prepared = dataset::prepare(&p, None).unwrap();
    let clips = prepared.clips.as_ref().unwrap();
    let test_ids = presentation_order(&prepared.sequences, None); // the test split, in order
    let n = test_ids.len();
    assert_eq!(
        n % 5,
        4,
        "{n} test subsequences: a last batch of 5 is short"
    );
    let data = SequenceData::render_prepared(&prepared, &test_ids, &p.occlusion);
    let set = &prepared.images;
    let device = Device::flex();
    let model = p
        .model
        .as_ref()
        .unwrap()
        .config(set.channels, set.height, set.width, 4)
        .init(&device);
    let score = |same_shape| {
        let batches = EvalBatches {
            size: 5,
            same_shape,
        };
        evaluate_clips(&model, &data, &test_ids, clips, &device, batches, 4, 5).unwrap()
    };
    let (plain, filled) = (score(false), score(true));
    assert_eq!(plain.predictions.len(), n);
    assert_eq!(
        filled.predictions.len(),
        n,
        "the filler rows are not scored"
    );
    for (a, b) in plain.predictions.iter().zip(&filled.predictions) {
        assert_eq!(
            (a.sequence, a.position, a.truth, a.predicted),
            (b.sequence, b.position, b.truth, b.predicted)
        );
        assert!((a.probability - b.probability).abs() < 1e-5, "{a:?} {b:?}");
    }
    assert_eq!(plain.videos.len(), filled.videos.len());
    for (a, b) in plain.videos.iter().zip(&filled.videos) {
        assert_eq!(
            (a.video, a.truth, a.predicted, a.subsequences),
            (b.video, b.truth, b.predicted, b.subsequences)
        );
    }
    assert_eq!(plain.clip, filled.clip, "the same tallies");
    let (l_plain, l_filled) = (plain.metrics.loss.unwrap(), filled.metrics.loss.unwrap());
    assert!((l_plain - l_filled).abs() < 1e-6, "{l_plain} {l_filled}");
    // Burn's clip loss on all the test subsequences at once.
    let all = data.batch(&(0..n).collect::<Vec<_>>());
    let x = Tensor::<5>::from_data(TensorData::new(all.images.clone(), all.shape), &device);
    let y = Tensor::<2, Int>::from_data(TensorData::new(all.targets.clone(), [n, data.t]), &device);
    let output = clips.output;
    assert_eq!(output, ClipOutput::Last);
    let burn_loss = clip_cross_entropy(model.forward(x), y, output).into_scalar::<f32>() as f64;
    assert!((l_plain - burn_loss).abs() < 1e-4, "{l_plain} {burn_loss}");
}
