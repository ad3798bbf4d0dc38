//! Accuracy overall, per occlusion level, per sequence position, per class, and the confusion
//! matrix — computed from per-image predictions, the same way for training, evaluation, the results
//! tables and the quiz.

/// Correct and total counts of one slice of the predictions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub correct: u64,
    pub total: u64,
}

impl Tally {
    pub fn add(&mut self, correct: bool) {
        self.correct += correct as u64;
        self.total += 1;
    }
    /// Accuracy in 0–1, `None` when nothing was counted.
    pub fn accuracy(&self) -> Option<f64> {
        (self.total > 0).then(|| self.correct as f64 / self.total as f64)
    }
}

/// One image's prediction, with what is needed to slice the metrics.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImagePrediction {
    pub sequence: u32,
    pub position: u16,
    pub level: u8,
    pub truth: u16,
    pub predicted: u16,
    /// Probability the model gave its prediction (written with five decimals).
    #[serde(serialize_with = "five_decimals")]
    pub probability: f32,
}

/// A probability as `predictions.csv` writes it: five decimals.
fn five_decimals<S: serde::Serializer>(p: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{p:.5}"))
}

/// All metrics of one evaluation.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub overall: Tally,
    /// Index = occlusion level (0 = unoccluded).
    pub per_level: Vec<Tally>,
    /// Index = position in the sequence.
    pub per_position: Vec<Tally>,
    /// Index = true class.
    pub per_class: Vec<Tally>,
    /// `confusion[truth][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// Mean cross-entropy per image, when the caller measured it.
    pub loss: Option<f64>,
}

impl Metrics {
    /// An empty accumulator for `num_classes` classes, levels `0..=num_levels` and `t` positions.
    pub fn new(num_classes: usize, num_levels: usize, t: usize) -> Self {
        Metrics {
            overall: Tally::default(),
            per_level: vec![Tally::default(); num_levels + 1],
            per_position: vec![Tally::default(); t],
            per_class: vec![Tally::default(); num_classes],
            confusion: vec![vec![0; num_classes]; num_classes],
            loss: None,
        }
    }

    /// Counts one prediction; levels, positions and classes beyond the sizes given to `new` grow
    /// the tables rather than being lost.
    pub fn add(&mut self, p: &ImagePrediction) {
        let ok = p.truth == p.predicted;
        self.overall.add(ok);
        grow(&mut self.per_level, p.level as usize).add(ok);
        grow(&mut self.per_position, p.position as usize).add(ok);
        grow(&mut self.per_class, p.truth as usize).add(ok);
        let n = self
            .confusion
            .len()
            .max(p.truth as usize + 1)
            .max(p.predicted as usize + 1);
        if n > self.confusion.len() {
            self.confusion.resize(n, Vec::new());
        }
        for row in &mut self.confusion {
            row.resize(n, 0);
        }
        self.confusion[p.truth as usize][p.predicted as usize] += 1;
    }

    /// Metrics of a list of predictions.
    pub fn from_predictions(
        preds: &[ImagePrediction],
        num_classes: usize,
        num_levels: usize,
        t: usize,
    ) -> Self {
        let mut m = Metrics::new(num_classes, num_levels, t);
        for p in preds {
            m.add(p);
        }
        m
    }

    /// Overall accuracy in 0–1 (0 when empty).
    pub fn accuracy(&self) -> f64 {
        self.overall.accuracy().unwrap_or(0.0)
    }
}

fn grow(v: &mut Vec<Tally>, i: usize) -> &mut Tally {
    if v.len() <= i {
        v.resize(i + 1, Tally::default());
    }
    &mut v[i]
}

/// A plain-text report of the metrics (the CLI prints it).
pub fn format_metrics(m: &Metrics, class_names: &[String]) -> String {
    let pct = |t: &Tally| {
        t.accuracy()
            .map_or("—".to_string(), |a| format!("{:.2} %", a * 100.0))
    };
    let mut s = format!(
        "accuracy  {} of {} images",
        pct(&m.overall),
        m.overall.total
    );
    if let Some(l) = m.loss {
        s.push_str(&format!(", loss {l:.4}"));
    }
    s.push_str("\nper level ");
    for (level, t) in m.per_level.iter().enumerate().filter(|(_, t)| t.total > 0) {
        s.push_str(&format!("  L{level}: {}", pct(t)));
    }
    s.push_str("\nper position");
    for (pos, t) in m.per_position.iter().enumerate() {
        s.push_str(&format!("  {}: {}", pos + 1, pct(t)));
    }
    s.push_str("\nper class ");
    for (c, t) in m.per_class.iter().enumerate().filter(|(_, t)| t.total > 0) {
        let name = class_names.get(c).map_or(c.to_string(), Clone::clone);
        s.push_str(&format!("  {name}: {}", pct(t)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(level: u8, position: u16, truth: u16, predicted: u16) -> ImagePrediction {
        ImagePrediction {
            sequence: 0,
            position,
            level,
            truth,
            predicted,
            probability: 0.9,
        }
    }

    #[test]
    fn slices_count_what_they_say() {
        let preds = [p(1, 0, 0, 0), p(1, 1, 1, 2), p(5, 0, 2, 2), p(5, 1, 2, 0)];
        let m = Metrics::from_predictions(&preds, 3, 5, 2);
        assert_eq!(
            m.overall,
            Tally {
                correct: 2,
                total: 4
            }
        );
        assert_eq!(
            m.per_level[1],
            Tally {
                correct: 1,
                total: 2
            }
        );
        assert_eq!(
            m.per_level[5],
            Tally {
                correct: 1,
                total: 2
            }
        );
        assert_eq!(m.per_level[3].accuracy(), None);
        assert_eq!(
            m.per_position[0],
            Tally {
                correct: 2,
                total: 2
            }
        );
        assert_eq!(
            m.per_position[1],
            Tally {
                correct: 0,
                total: 2
            }
        );
        assert_eq!(
            m.per_class[2],
            Tally {
                correct: 1,
                total: 2
            }
        );
        assert_eq!(m.confusion[1][2], 1);
        assert_eq!(m.confusion[2][0], 1);
        assert_eq!(m.confusion.iter().flatten().sum::<u64>(), 4);
        assert!((m.accuracy() - 0.5).abs() < 1e-12);
    }
}
