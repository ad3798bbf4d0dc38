//! `occlab quiz-serve`: its arguments, and the command's body (main.rs only dispatches).

use super::{ClassError, ClassSettings, DEFAULT_BIND, qr, start};
use crate::data::source::data_dir_from;
use crate::experiment::preset::Preset;
use crate::quiz::config::{Group, QuizConfig, QuizDesignArgs};
use crate::train::BackendChoice;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct QuizServeArgs {
    /// The preset whose data, occluders and sequences the quiz shows.
    #[arg(long, default_value = "presets/quiz/digits-embedded.toml")]
    pub preset: PathBuf,
    /// The address to listen on. The default is this machine only; for a class on the room's
    /// network choose every interface: `--bind 0.0.0.0:8080`.
    #[arg(long, default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// The class folder: join code, tokens and one session file per participant. Running the
    /// same command on the same folder continues the class session.
    #[arg(long, default_value = "quiz/class")]
    pub out: PathBuf,
    /// The host name or address participants reach this machine at (default: found from the
    /// network interface when bound to every interface).
    #[arg(long)]
    pub public_host: Option<String>,
    /// Every participant's group: Non-expert, Expert, or any other label.
    #[arg(long, default_value = "Non-expert")]
    pub group: String,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub design: QuizDesignArgs,
    /// A trained run to score on the quiz's images and show against the class (repeatable).
    #[arg(long)]
    pub run: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

impl QuizServeArgs {
    /// The class session these arguments describe.
    pub fn settings(&self) -> Result<ClassSettings, ClassError> {
        let preset = Preset::load(&self.preset)?;
        let mut quiz = QuizConfig::new("class", Group::parse(&self.group), preset);
        self.design.apply(&mut quiz);
        Ok(ClassSettings {
            quiz,
            dir: self.out.clone(),
            data_dir: data_dir_from(self.data_dir.as_deref()),
            bind: self.bind,
            public_host: self.public_host.clone(),
            runs: self.run.clone(),
            backend: self.backend,
        })
    }
}

/// Starts the server, prints where it listens (`listening on ADDR` first), how to join (with
/// the QR code as text) and the teacher page, then serves until the process is stopped.
pub fn run(args: QuizServeArgs) -> Result<(), ClassError> {
    let settings = args.settings()?;
    let dir = settings.dir.clone();
    let server = start(settings)?;
    let joined = server.state.participant_count();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", server.addr);
    let _ = writeln!(
        out,
        "class session in {} ({}), join code {}",
        dir.display(),
        if joined == 0 {
            "new".to_string()
        } else {
            format!("continued: {joined} participants so far")
        },
        server.state.join_code()
    );
    let _ = writeln!(out, "participants open: {}", server.join_url);
    if let Some(text) = qr::text(&server.join_url) {
        let _ = write!(out, "{text}");
    }
    let _ = writeln!(
        out,
        "teacher page (keep it private): {}",
        server.teacher_url
    );
    let _ = writeln!(
        out,
        "every sequence is saved as it is submitted; stop with Ctrl-C, run the same command to \
         continue"
    );
    let _ = out.flush();
    drop(out);
    server.wait()
}
