//! One sequence being answered, and how keys map to classes.
//!
//! A [`Trial`] keeps the answers (changeable until submitted), which image is selected, when each
//! final answer was given (milliseconds from the sequence's onset), how many answers were
//! corrected, and the time limit. Front ends pass the current [`Instant`] into every call, so the
//! timing is the front end's clock and tests can drive it exactly.
//!
//! Keys ([`key_class`]): when every class name is one character (digits "0"–"9", letters "A"–"Z")
//! the participant types that character (letters in either case); otherwise, with at most ten
//! classes (CIFAR-10), the number keys 0–9 pick the class with that index and the legend
//! ([`key_legend`]) is shown on screen.

use super::config::QuizConfig;
use super::items::QuizItem;
use super::session::{Header, Response, unix_ms};
use std::time::{Duration, Instant};

/// A sequence on screen.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Index into [`Header::items`].
    pub item: usize,
    answers: Vec<Option<u16>>,
    answer_ms: Vec<Option<f64>>,
    corrections: u32,
    selected: usize,
    started: Instant,
    time_limit: Option<Duration>,
}

/// Why a trial cannot be submitted yet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrialError {
    #[error("{missing} of {total} images have no answer yet")]
    Incomplete { missing: usize, total: usize },
}

impl Trial {
    /// A trial of item `item` (with `t` images) shown at `now`.
    pub fn new(item: usize, t: usize, time_limit: Option<Duration>, now: Instant) -> Self {
        Trial {
            item,
            answers: vec![None; t],
            answer_ms: vec![None; t],
            corrections: 0,
            selected: 0,
            started: now,
            time_limit,
        }
    }

    pub fn answers(&self) -> &[Option<u16>] {
        &self.answers
    }

    /// The image whose answer the next key sets.
    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn corrections(&self) -> u32 {
        self.corrections
    }

    /// Selects image `position` (ignored if out of range).
    pub fn select(&mut self, position: usize) {
        if position < self.answers.len() {
            self.selected = position;
        }
    }

    /// Moves the selection by `delta`, staying inside the sequence.
    pub fn move_selection(&mut self, delta: isize) {
        let last = self.answers.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last) as usize;
    }

    /// Sets the answer of image `position`. Refused (false) after the time limit or out of range.
    pub fn answer(&mut self, position: usize, class: u16, now: Instant) -> bool {
        if self.is_expired(now) || position >= self.answers.len() {
            return false;
        }
        match self.answers[position] {
            Some(old) if old == class => return true,
            Some(_) => self.corrections += 1,
            None => {}
        }
        self.answers[position] = Some(class);
        self.answer_ms[position] = Some(self.ms(now));
        true
    }

    /// Answers the selected image and moves the selection to the next image without an answer
    /// (after it, else from the start), or to the next image when all are answered.
    pub fn answer_selected(&mut self, class: u16, now: Instant) -> bool {
        let pos = self.selected;
        if !self.answer(pos, class, now) {
            return false;
        }
        let t = self.answers.len();
        self.selected = (1..=t)
            .map(|k| (pos + k) % t)
            .find(|&p| self.answers[p].is_none())
            .unwrap_or((pos + 1).min(t - 1));
        true
    }

    /// Backspace: clears the selected image's answer, or, when it has none, moves back one image
    /// and clears that one.
    pub fn clear_selected(&mut self, now: Instant) {
        if self.is_expired(now) {
            return;
        }
        if self.answers[self.selected].is_none() && self.selected > 0 {
            self.selected -= 1;
        }
        if self.answers[self.selected].take().is_some() {
            self.answer_ms[self.selected] = None;
            self.corrections += 1;
        }
    }

    /// Every image has an answer.
    pub fn is_complete(&self) -> bool {
        self.answers.iter().all(Option::is_some)
    }

    /// Time since the sequence was shown.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Time left, if there is a limit.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.time_limit.map(|l| l.saturating_sub(self.elapsed(now)))
    }

    /// The time limit has passed.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.time_limit.is_some_and(|l| self.elapsed(now) >= l)
    }

    /// The response to save. Needs every answer, unless the time limit has passed (then what
    /// was answered in time is saved, marked `timed_out`).
    pub fn submit(&self, now: Instant) -> Result<Response, TrialError> {
        let timed_out = self.is_expired(now);
        if !timed_out && !self.is_complete() {
            return Err(TrialError::Incomplete {
                missing: self.answers.iter().filter(|a| a.is_none()).count(),
                total: self.answers.len(),
            });
        }
        let sequence_ms = match (timed_out, self.time_limit) {
            (true, Some(limit)) => limit.as_secs_f64() * 1e3,
            _ => self.ms(now),
        };
        Ok(Response {
            item: self.item,
            answers: self.answers.clone(),
            answer_ms: self.answer_ms.clone(),
            sequence_ms,
            corrections: self.corrections,
            timed_out,
            submitted_unix_ms: unix_ms(),
        })
    }

    fn ms(&self, now: Instant) -> f64 {
        self.elapsed(now).as_secs_f64() * 1e3
    }
}

/// Whether every class name is a single character (digits, letters): then the participant types
/// the name itself.
fn typed_names(class_names: &[String]) -> bool {
    !class_names.is_empty() && class_names.iter().all(|n| n.chars().count() == 1)
}

/// The class a typed character stands for (see the module docs).
pub fn key_class(c: char, class_names: &[String]) -> Option<u16> {
    if typed_names(class_names) {
        return class_names
            .iter()
            .position(|n| n.chars().next().is_some_and(|k| k.eq_ignore_ascii_case(&c)))
            .map(|i| i as u16);
    }
    let d = c.to_digit(10)? as usize;
    (class_names.len() <= 10 && d < class_names.len()).then_some(d as u16)
}

/// The key of every class, for the on-screen legend: `("3", "cat")`. Empty when classes can only
/// be clicked (more than ten classes with long names).
pub fn key_legend(class_names: &[String]) -> Vec<(char, String)> {
    if typed_names(class_names) {
        return class_names
            .iter()
            .filter_map(|n| Some((n.chars().next()?.to_ascii_uppercase(), n.clone())))
            .collect();
    }
    if class_names.len() <= 10 {
        return class_names
            .iter()
            .enumerate()
            .map(|(i, n)| (char::from_digit(i as u32, 10).unwrap_or('?'), n.clone()))
            .collect();
    }
    Vec::new()
}

/// Whether the legend must be on screen: keys are not the class names themselves.
pub fn legend_needed(class_names: &[String]) -> bool {
    !typed_names(class_names)
}

/// Parses one line of answers for `t` images: tokens separated by spaces or commas (a key, a
/// class name or a class number), or — without separators — one key per character ("01234",
/// "boston"). The message says what is wrong.
pub fn parse_answer_line(line: &str, t: usize, class_names: &[String]) -> Result<Vec<u16>, String> {
    let line = line.trim();
    let tokens: Vec<&str> = if line.contains([' ', ',', '\t']) {
        line.split([' ', ',', '\t'])
            .filter(|s| !s.is_empty())
            .collect()
    } else if line.chars().count() == t
        || typed_names(class_names)
        || line.chars().all(|c| c.is_ascii_digit())
    {
        line.char_indices()
            .map(|(i, c)| &line[i..i + c.len_utf8()])
            .collect()
    } else {
        vec![line]
    };
    if tokens.len() != t {
        return Err(format!(
            "{} answers for {t} images: give one per image, e.g. {}",
            tokens.len(),
            example(t, class_names)
        ));
    }
    tokens
        .iter()
        .map(|tok| {
            if let Some(i) = class_names.iter().position(|n| n.eq_ignore_ascii_case(tok)) {
                return Ok(i as u16);
            }
            let mut chars = tok.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && let Some(k) = key_class(c, class_names)
            {
                return Ok(k);
            }
            Err(format!("\"{tok}\" is not one of the classes"))
        })
        .collect()
}

fn example(t: usize, class_names: &[String]) -> String {
    let keys = key_legend(class_names);
    (0..t)
        .map(|i| {
            keys.get(i % keys.len().max(1))
                .map_or(i.to_string(), |(k, _)| k.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Practice feedback for one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFeedback {
    pub truth: String,
    pub answer: Option<String>,
    pub correct: bool,
}

/// What a practice sequence got right and wrong.
pub fn feedback(header: &Header, response: &Response) -> Vec<ImageFeedback> {
    let Some(item) = header.items.get(response.item) else {
        return Vec::new();
    };
    item.labels
        .iter()
        .zip(&response.answers)
        .map(|(&truth, &answer)| ImageFeedback {
            truth: header.class_name(truth),
            answer: answer.map(|a| header.class_name(a)),
            correct: answer == Some(truth),
        })
        .collect()
}

/// The instruction screen's text.
pub fn instructions(config: &QuizConfig, class_names: &[String], practice: usize) -> String {
    let t = config.preset.sequences.t;
    let n = config.trials();
    let mut s = format!(
        "You will see {n} sequences of {t} images each. Parts of every image are hidden behind \
         black frames or blocks; some images are hard to recognise.\n\n\
         Give one answer per image: which {} does it show? ",
        if typed_names(class_names)
            && class_names
                .iter()
                .all(|c| c.chars().all(|k| k.is_ascii_digit()))
        {
            "digit"
        } else if typed_names(class_names) {
            "letter"
        } else {
            "class"
        }
    );
    if legend_needed(class_names) {
        s.push_str("Press the number key of the class; the legend stays on screen. ");
    } else {
        s.push_str("Type it on the keyboard. ");
    }
    s.push_str(
        "The next image is selected after each answer; click an image or use the arrow keys to \
         go back, Backspace to clear. You can correct any answer until you submit the sequence \
         with Enter.\n\n",
    );
    s.push_str(
        "Some sequences follow a regular pattern (such as 0-1-2-3-4 or a city name), others are \
         in random order. Use whatever helps you.\n\n",
    );
    if let Some(limit) = config.time_limit_seconds {
        s.push_str(&format!(
            "You have {limit:.0} seconds per sequence; when the time is up the sequence is \
             submitted with the answers given so far.\n\n"
        ));
    }
    if practice > 0 {
        s.push_str(&format!(
            "The first {practice} sequences are practice: after each one you are shown the \
             right answers. After that there is no feedback.\n\n"
        ));
    }
    s.push_str("Each sequence is saved as soon as you submit it.");
    s
}

/// The item and its position among the trials (or the practice items), for "Sequence 3 of 20".
pub fn progress_label(header: &Header, item: usize) -> String {
    let practice = header.practice_count();
    let Some(it) = header.items.get(item) else {
        return String::new();
    };
    if it.practice {
        format!("Practice {} of {practice}", item + 1)
    } else {
        format!(
            "Sequence {} of {}",
            item + 1 - practice,
            header.items.len() - practice
        )
    }
}

/// Convenience: the item a trial shows.
pub fn trial_item<'a>(header: &'a Header, trial: &Trial) -> Option<&'a QuizItem> {
    header.items.get(trial.item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keys_map_to_classes() {
        let digits = names(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert_eq!(key_class('7', &digits), Some(7));
        assert_eq!(key_class('a', &digits), None);
        let letters: Vec<String> = (b'A'..=b'Z').map(|c| (c as char).to_string()).collect();
        assert_eq!(key_class('b', &letters), Some(1));
        assert_eq!(key_class('Z', &letters), Some(25));
        assert_eq!(key_class('3', &letters), None);
        let cifar = names(&crate::data::cifar::CIFAR10_CLASSES);
        assert_eq!(key_class('3', &cifar), Some(3));
        assert_eq!(key_class('c', &cifar), None);
        assert!(legend_needed(&cifar) && !legend_needed(&digits));
        assert_eq!(key_legend(&cifar)[9], ('9', "truck".to_string()));
        assert_eq!(
            parse_answer_line("3 cat, 9 bird", 4, &cifar),
            Ok(vec![3, 3, 9, 2])
        );
        assert_eq!(
            parse_answer_line("boston", 6, &letters),
            Ok(vec![1, 14, 18, 19, 14, 13])
        );
        assert_eq!(
            parse_answer_line(" 01234 ", 5, &digits),
            Ok(vec![0, 1, 2, 3, 4])
        );
        assert!(
            parse_answer_line("0123", 5, &digits)
                .unwrap_err()
                .contains("4 answers")
        );
        assert!(
            parse_answer_line("0 1 2 3 x", 5, &digits)
                .unwrap_err()
                .contains("\"x\"")
        );
    }

    #[test]
    fn a_trial_records_answers_corrections_and_times() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut trial = Trial::new(4, 3, None, t0);
        assert!(trial.answer_selected(1, ms(100)));
        assert_eq!(trial.selected(), 1);
        assert!(trial.answer_selected(2, ms(250)));
        assert_eq!(
            trial.submit(ms(300)),
            Err(TrialError::Incomplete {
                missing: 1,
                total: 3
            })
        );
        trial.select(0);
        assert!(trial.answer_selected(7, ms(400))); // a correction
        assert_eq!(trial.selected(), 2);
        assert!(trial.answer_selected(3, ms(500)));
        trial.clear_selected(ms(600)); // clears image 2 (selection stayed on the last image)
        assert_eq!(trial.answers(), &[Some(7), Some(2), None]);
        assert!(trial.answer_selected(4, ms(700)));
        let r = trial.submit(ms(900)).unwrap();
        assert_eq!(r.item, 4);
        assert_eq!(r.answers, vec![Some(7), Some(2), Some(4)]);
        assert_eq!(r.answer_ms, vec![Some(400.0), Some(250.0), Some(700.0)]);
        assert_eq!(r.corrections, 2);
        assert_eq!(r.sequence_ms, 900.0);
        assert!(!r.timed_out);
    }

    #[test]
    fn the_time_limit_closes_a_trial() {
        let t0 = Instant::now();
        let mut trial = Trial::new(0, 2, Some(Duration::from_secs(2)), t0);
        assert!(trial.answer_selected(5, t0 + Duration::from_millis(1500)));
        assert_eq!(
            trial.remaining(t0 + Duration::from_millis(1500)),
            Some(Duration::from_millis(500))
        );
        let late = t0 + Duration::from_millis(2100);
        assert!(!trial.answer_selected(6, late));
        let r = trial.submit(late).unwrap();
        assert!(r.timed_out);
        assert_eq!(r.answers, vec![Some(5), None]);
        assert_eq!(r.sequence_ms, 2000.0);
    }
}
