//! A headless front end: the session in a terminal (or a pipe). Each sequence is printed as text
//! (the occluded images as character art, unless turned off), then one line of answers is read
//! (`0 1 2 3 4`, `01234`, `boston`, `3 cat 9 bird 2`). A bad line is explained and asked again;
//! the end of the input pauses the session (run the same command again to resume).
//!
//! Times: the whole line arrives at once, so every image of a sequence gets the same answer time
//! (the line's), and corrections are not seen. The GUI records per-image times and corrections.

use super::QuizError;
use super::items::{QuizItem, Stimuli};
use super::session::Session;
use super::trial::{
    Trial, feedback, instructions, key_legend, legend_needed, parse_answer_line, progress_label,
};
use std::io::{BufRead, Write};
use std::time::Instant;

/// Character art size of one image.
const ART_COLUMNS: usize = 20;
const ART_ROWS: usize = 10;
/// Dark to bright.
const RAMP: &[u8] = b" .:-=+*#%@";

/// How the terminal shows sequences.
#[derive(Clone, Copy, Debug)]
pub struct TerminalOptions {
    /// Print the images as character art (else only the prompt).
    pub show_images: bool,
}

impl Default for TerminalOptions {
    fn default() -> Self {
        TerminalOptions { show_images: true }
    }
}

/// How a terminal session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminalOutcome {
    /// Every sequence is answered.
    Finished,
    /// The input ended first; `submitted` of `total` sequences are saved.
    Paused { submitted: usize, total: usize },
}

fn io_err(e: std::io::Error) -> QuizError {
    QuizError::Io {
        path: "<terminal>".into(),
        source: e,
    }
}

/// Runs `session` from its next item until it is complete or `input` ends.
pub fn run(
    session: &mut Session,
    stimuli: &Stimuli,
    input: &mut impl BufRead,
    out: &mut impl Write,
    options: TerminalOptions,
) -> Result<TerminalOutcome, QuizError> {
    let header = session.header().clone();
    let names = &header.class_names;
    let total = header.items.len();
    match session.next_item() {
        Some(0) => {
            writeln!(
                out,
                "{}\n",
                instructions(&header.config, names, header.practice_count())
            )
            .map_err(io_err)?;
        }
        Some(k) => {
            writeln!(
                out,
                "Resuming session {} at sequence {} of {total} ({} saved).",
                header.session,
                k + 1,
                k
            )
            .map_err(io_err)?;
        }
        None => {}
    }
    if legend_needed(names) {
        let legend: Vec<String> = key_legend(names)
            .into_iter()
            .map(|(k, n)| format!("{k} = {n}"))
            .collect();
        writeln!(out, "Keys: {}", legend.join(", ")).map_err(io_err)?;
    }
    while let Some(k) = session.next_item() {
        let item = &header.items[k];
        writeln!(out, "\n{}", progress_label(&header, k)).map_err(io_err)?;
        if options.show_images {
            write!(out, "{}", art(stimuli, item)).map_err(io_err)?;
        }
        let mut trial = Trial::new(k, item.len(), header.config.time_limit(), Instant::now());
        loop {
            write!(out, "answers for {} images> ", item.len()).map_err(io_err)?;
            out.flush().map_err(io_err)?;
            let mut line = String::new();
            if input.read_line(&mut line).map_err(io_err)? == 0 {
                writeln!(
                    out,
                    "\nPaused: {k} of {total} sequences saved in {}. Run the same command again \
                     to continue.",
                    session.path().display()
                )
                .map_err(io_err)?;
                return Ok(TerminalOutcome::Paused {
                    submitted: k,
                    total,
                });
            }
            if line.trim().is_empty() {
                continue;
            }
            let answers = match parse_answer_line(&line, item.len(), names) {
                Ok(a) => a,
                Err(e) => {
                    writeln!(out, "{e}").map_err(io_err)?;
                    continue;
                }
            };
            let now = Instant::now();
            if trial.is_expired(now) {
                writeln!(out, "Time is up: answers after the limit are not counted.")
                    .map_err(io_err)?;
            } else {
                for (pos, &c) in answers.iter().enumerate() {
                    trial.answer(pos, c, now);
                }
            }
            let response = trial
                .submit(now)
                .map_err(|e| QuizError::Config(e.to_string()))?;
            session.append(response.clone())?;
            writeln!(out, "saved ({} of {total})", k + 1).map_err(io_err)?;
            if item.practice {
                let fb = feedback(&header, &response);
                let right = fb.iter().filter(|f| f.correct).count();
                let shown: Vec<String> = fb
                    .iter()
                    .map(|f| {
                        let a = f.answer.clone().unwrap_or_else(|| "–".into());
                        if f.correct {
                            format!("{a} ✓")
                        } else {
                            format!("{a} ✗ ({})", f.truth)
                        }
                    })
                    .collect();
                writeln!(
                    out,
                    "practice feedback: {right} of {} right: {}",
                    fb.len(),
                    shown.join(", ")
                )
                .map_err(io_err)?;
            }
            break;
        }
    }
    writeln!(
        out,
        "\nSession complete: {total} sequences saved in {}. Thank you!",
        session.path().display()
    )
    .map_err(io_err)?;
    Ok(TerminalOutcome::Finished)
}

/// The item's occluded images side by side as character art, numbered.
pub fn art(stimuli: &Stimuli, item: &QuizItem) -> String {
    let im = &stimuli.images;
    let (h, w, c) = (im.height, im.width, im.channels);
    let grids: Vec<Vec<u8>> = (0..item.len())
        .map(|pos| {
            let px = stimuli.render(item, pos);
            let mut cells = vec![0u8; ART_ROWS * ART_COLUMNS];
            for r in 0..ART_ROWS {
                for col in 0..ART_COLUMNS {
                    let (y0, y1) = (
                        r * h / ART_ROWS,
                        ((r + 1) * h / ART_ROWS).max(r * h / ART_ROWS + 1),
                    );
                    let (x0, x1) = (
                        col * w / ART_COLUMNS,
                        ((col + 1) * w / ART_COLUMNS).max(col * w / ART_COLUMNS + 1),
                    );
                    let (mut sum, mut n) = (0u64, 0u64);
                    for y in y0..y1.min(h) {
                        for x in x0..x1.min(w) {
                            for ch in 0..c {
                                sum += px[(y * w + x) * c + ch] as u64;
                                n += 1;
                            }
                        }
                    }
                    cells[r * ART_COLUMNS + col] = (sum / n.max(1)) as u8;
                }
            }
            cells
        })
        .collect();
    let mut s = String::new();
    for pos in 0..item.len() {
        s.push_str(&format!(
            "{:<width$}  ",
            format!("[{}]", pos + 1),
            width = ART_COLUMNS
        ));
    }
    s.push('\n');
    for r in 0..ART_ROWS {
        for g in &grids {
            for col in 0..ART_COLUMNS {
                let v = g[r * ART_COLUMNS + col] as usize;
                s.push(RAMP[v * (RAMP.len() - 1) / 255] as char);
            }
            s.push_str("  ");
        }
        s.push('\n');
    }
    s
}
