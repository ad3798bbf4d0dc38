//! Trained runs applied to exactly the images a quiz showed.
//!
//! For each run, each session's analysed items are rendered from the session's own config — its
//! images, its occluders — not the run's, and fed through the run's model as sequences of the
//! quiz's length (a CRNN sees the same context the participant saw). Sessions with the same
//! data and occluders share one load and one pass over their distinct items.

use super::QuizError;
use super::analysis::ModelAnswers;
use super::items::{QuizItem, Stimuli};
use super::session::SessionRecord;
use crate::data::source::DataSource;
use crate::experiment::run::RunDir;
use crate::experiment::tables::Dataset;
use crate::experiment::trained::TrainedModel;
use crate::train::backend::{BackendChoice, choose_device};
use crate::train::batches::SequenceData;
use crate::train::eval::{EvalBatches, evaluate};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Sessions that show the same images with the same occluders.
struct StimulusGroup {
    stimuli: Stimuli,
    /// (session index, item index) of every analysed item.
    members: Vec<(usize, usize)>,
}

/// Scores every run in `runs` on the items of `sessions`. Relative data paths are resolved
/// against `data_dir`. A run trained on another kind of data than a session (other classes or
/// image size) does not score that session (the report notes it); a run that cannot be loaded
/// at all is an error naming it.
pub fn score_runs(
    sessions: &[SessionRecord],
    runs: &[&Path],
    data_dir: Option<&Path>,
    backend: BackendChoice,
) -> Result<Vec<ModelAnswers>, QuizError> {
    if runs.is_empty() {
        return Ok(Vec::new());
    }
    let groups = group_sessions(sessions, data_dir)?;
    let chosen = choose_device(backend).map_err(|m| QuizError::Config(format!("backend: {m}")))?;
    let mut out = Vec::new();
    for &path in runs {
        let err = |message: String| QuizError::Run {
            run: path.to_path_buf(),
            message,
        };
        let run = RunDir::open(path).map_err(|e| err(e.to_string()))?;
        let preset = run.preset().map_err(|e| err(e.to_string()))?;
        let spec = preset
            .model
            .as_ref()
            .ok_or_else(|| err("its preset has no [model] section".into()))?;
        let mut answers = ModelAnswers {
            run: run.name(),
            model: spec.kind.to_string(),
            kind: Some(spec.kind),
            predictions: HashMap::new(),
            caveats: Vec::new(),
        };
        for group in &groups {
            let im = &group.stimuli.images;
            if !compatible(&preset.data, &group.stimuli.config.preset.data) {
                continue;
            }
            let model = match TrainedModel::open(&run, im, &chosen.device) {
                Ok(m) => m.model,
                // Other image size or class count than this data: the run cannot score it.
                Err(_) if !group_matches_run(&preset.data, group) => continue,
                Err(e) => return Err(err(e.to_string())),
            };
            let caveat = format!(
                "{} was trained on {}, the quiz shows {}: unless these are disjoint, the model \
                 may have seen some of the quiz's images in training",
                answers.run,
                preset.data.describe(),
                group.stimuli.config.preset.data.describe()
            );
            if preset.data != group.stimuli.config.preset.data && !answers.caveats.contains(&caveat)
            {
                answers.caveats.push(caveat);
            }
            let items: Vec<&QuizItem> = group
                .members
                .iter()
                .map(|&(s, i)| &sessions[s].header.items[i])
                .collect();
            // Distinct items, in first-seen order; items of other lengths scored separately.
            let mut distinct: Vec<&QuizItem> = Vec::new();
            let mut index: HashMap<_, usize> = HashMap::new();
            let mut slot = Vec::with_capacity(items.len());
            for item in &items {
                let k = *index.entry(item.key()).or_insert_with(|| {
                    distinct.push(item);
                    distinct.len() - 1
                });
                slot.push(k);
            }
            let mut preds: Vec<Vec<u16>> = vec![Vec::new(); distinct.len()];
            let mut lengths: Vec<usize> = distinct.iter().map(|i| i.len()).collect();
            lengths.sort_unstable();
            lengths.dedup();
            for t in lengths {
                let ids: Vec<usize> = (0..distinct.len())
                    .filter(|&k| distinct[k].len() == t)
                    .collect();
                let seqs: Vec<_> = ids.iter().map(|&k| distinct[k].sequence()).collect();
                let data = SequenceData::render(im, &seqs, &group.stimuli.config.preset.occlusion);
                let batch = preset.train.as_ref().map_or(64, |t| t.eval_batch_size);
                let batches = EvalBatches {
                    size: batch,
                    same_shape: chosen.adapter.is_some(),
                };
                let (_, image_preds) = evaluate(
                    &model,
                    &data,
                    &ids,
                    &chosen.device,
                    batches,
                    im.num_classes(),
                    group.stimuli.config.preset.occlusion.num_levels(),
                )
                .map_err(|e| err(e.to_string()))?;
                for &k in &ids {
                    preds[k] = vec![0; t];
                }
                for p in image_preds {
                    preds[p.sequence as usize][p.position as usize] = p.predicted;
                }
            }
            for (&(s, i), &k) in group.members.iter().zip(&slot) {
                answers.predictions.insert((s, i), preds[k].clone());
            }
        }
        out.push(answers);
    }
    Ok(out)
}

/// Whether a run trained on `run_data` may score images of `quiz_data`: the same column of the
/// paper (MNIST, EMNIST, CIFAR-10), or the very same source.
fn compatible(run_data: &DataSource, quiz_data: &DataSource) -> bool {
    match (Dataset::of(run_data), Dataset::of(quiz_data)) {
        (Some(a), Some(b)) => a == b,
        _ => run_data == quiz_data,
    }
}

/// Whether a group's data is what the run was trained on (then a failure to load is an error,
/// not a mismatch to skip).
fn group_matches_run(run_data: &DataSource, group: &StimulusGroup) -> bool {
    run_data == &group.stimuli.config.preset.data
}

/// Loads each distinct (data, occluders) once and lists the analysed items shown with it.
fn group_sessions(
    sessions: &[SessionRecord],
    data_dir: Option<&Path>,
) -> Result<Vec<StimulusGroup>, QuizError> {
    let mut groups: Vec<StimulusGroup> = Vec::new();
    let mut loaded: Vec<(DataSource, Arc<crate::data::ImageSet>)> = Vec::new();
    for (s, record) in sessions.iter().enumerate() {
        let config = &record.header.config;
        let members = record.trials().map(|(_, r)| (s, r.item));
        if let Some(g) = groups.iter_mut().find(|g| {
            g.stimuli.config.preset.data == config.preset.data
                && g.stimuli.config.preset.occlusion == config.preset.occlusion
        }) {
            g.members.extend(members);
            continue;
        }
        let images = match loaded.iter().find(|(d, _)| d == &config.preset.data) {
            Some((_, im)) => im.clone(),
            None => {
                let im = Arc::new(config.preset.data.load(data_dir)?);
                loaded.push((config.preset.data.clone(), im.clone()));
                im
            }
        };
        let stimuli = Stimuli::with_images(config, images);
        stimuli
            .check(&record.header.items)
            .map_err(|problem| super::SessionError::Invalid {
                path: record.path.clone(),
                problem,
            })?;
        groups.push(StimulusGroup {
            stimuli,
            members: members.collect(),
        });
    }
    Ok(groups)
}
