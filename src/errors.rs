//! Error messages as people read them: one line per cause, no sentence twice.
//!
//! The library's error enums put their cause's text in their own message ("occlusion spec: level
//! 3 …") and also return it as `source()`, so that a GUI label (`to_string()`) says everything.
//! Printing the whole chain would then repeat it ("Caused by: level 3 …"); [`chain_lines`] drops a
//! cause whose text the line before already holds.

use std::error::Error;

/// The lines to show for `err`: its message, then each cause that adds something.
pub fn chain_lines(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut lines: Vec<String> = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        let said = lines.last().is_some_and(|l| l.contains(text.trim()));
        if !text.trim().is_empty() && !said {
            lines.push(text);
        }
        cause = c.source();
    }
    lines
}

/// [`chain_lines`] as one text: the message, then `  caused by: …` lines.
pub fn chain_text(err: &(dyn Error + 'static)) -> String {
    let mut lines = chain_lines(err).into_iter();
    let mut out = lines.next().unwrap_or_default();
    for l in lines {
        out.push_str("\n  caused by: ");
        out.push_str(&l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("occlusion spec: {0}")]
    struct Outer(#[from] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("level 3 is outside 0–2")]
    struct Inner;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let e = Outer(Inner);
        assert_eq!(
            chain_lines(&e),
            vec!["occlusion spec: level 3 is outside 0–2"]
        );
        let wrapped = anyhow::Error::new(Outer(Inner)).context("reading presets/a.toml");
        assert_eq!(
            chain_text(wrapped.as_ref()),
            "reading presets/a.toml\n  caused by: occlusion spec: level 3 is outside 0–2"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(io).context("opening x.toml");
        assert_eq!(
            chain_lines(e.as_ref()),
            vec!["opening x.toml", "No such file"]
        );
    }
}
