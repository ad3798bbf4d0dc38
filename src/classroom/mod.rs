//! A class session: the quiz served over HTTP to every participant's browser on the room's
//! network, with live results for the teacher (`occlab quiz-serve`, the Quiz panel's "Class
//! session").
//!
//! Another front end over the quiz flow of [`crate::quiz`]: the same item selection and seeds,
//! instructions, practice with feedback and time limit as the workbench and the terminal, and the
//! same session files (one per participant, appended and fsynced per sequence), so
//! `occlab quiz-report <folder>` reads a class's sessions unchanged.
//!
//! * [`state`]: the class folder (join code, teacher token, who joined with which token) and
//!   everything a request may do to it — join, show the next sequence, render an image, submit.
//!   Every submitted sequence is on disk (fsynced) before the reply; a server killed with SIGKILL
//!   and started again with the same command continues every participant.
//! * [`http`]: the routes (hyper on tokio, on a thread of its own), the embedded page, bounded
//!   bodies, 4xx with a reason for every bad request.
//! * [`results`]: who joined, progress, and the class against the chosen runs on the same
//!   images (Wilson intervals, patterned vs random, per level), for the teacher page and the
//!   workbench.
//! * [`qr`]: the join address as a QR code.
//!
//! Security: a join code per class session; participant and teacher tokens are 256 random bits
//! from the OS; a participant token reaches only its own session and only the sequence it is
//! answering; the teacher token is printed on the server's terminal (or shown in the workbench)
//! and never sent to participants.

pub mod cli;
pub mod http;
pub mod qr;
pub mod results;
pub mod state;

use crate::quiz::QuizError;
use crate::quiz::config::QuizConfig;
use crate::train::BackendChoice;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use results::{ClassView, ParticipantView};
pub use state::ClassState;

/// The address `occlab quiz-serve` binds to unless told otherwise: this machine only. A class
/// needs `--bind 0.0.0.0:8080` (every interface), which the user chooses.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// Everything that defines a class session.
#[derive(Clone, Debug)]
pub struct ClassSettings {
    /// The quiz every participant takes; its participant ID and order seed are replaced per
    /// participant (`P001`, `P002`, …, each with its own order seed as on the desktop).
    pub quiz: QuizConfig,
    /// The class folder: `class.json`, `joined.log` and the session files.
    pub dir: PathBuf,
    /// Relative data paths of the preset are resolved against this.
    pub data_dir: Option<PathBuf>,
    pub bind: SocketAddr,
    /// The host name or address participants reach this machine at (default: the address of
    /// the network interface the machine would use, when bound to every interface).
    pub public_host: Option<String>,
    /// Trained runs scored on the quiz's images, shown against the class.
    pub runs: Vec<PathBuf>,
    pub backend: BackendChoice,
}

/// Why a class session could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error(transparent)]
    Quiz(#[from] QuizError),
    #[error(transparent)]
    Preset(#[from] crate::experiment::preset::PresetError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Folder { path: PathBuf, problem: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the class server stopped: {0}")]
    Server(String),
}

/// A running class server: its address, the links to show, the shared state. Dropping it stops
/// the server.
pub struct ClassServer {
    /// The address it listens on (the port is the real one when port 0 was asked for).
    pub addr: SocketAddr,
    /// What participants open (the join code in its fragment); the QR code encodes it.
    pub join_url: String,
    /// The teacher page, with the teacher token in its fragment (never sent in a request line).
    pub teacher_url: String,
    pub state: Arc<ClassState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl std::fmt::Debug for ClassServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassServer")
            .field("addr", &self.addr)
            .field("join_url", &self.join_url)
            .finish_non_exhaustive()
    }
}

/// Opens (or continues) the class folder, loads the images, binds the address and starts the
/// server on a thread of its own. Blocks for the loading (seconds); the workbench calls it from
/// a background task.
pub fn start(settings: ClassSettings) -> Result<ClassServer, ClassError> {
    let state = Arc::new(ClassState::open(&settings)?);
    let listener =
        std::net::TcpListener::bind(settings.bind).map_err(|source| ClassError::Bind {
            addr: settings.bind,
            source,
        })?;
    let bind_err = |source| ClassError::Bind {
        addr: settings.bind,
        source,
    };
    let addr = listener.local_addr().map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let host = match &settings.public_host {
        Some(h) => h.clone(),
        None if addr.ip().is_unspecified() => outward_ip()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
        None => host_of(addr.ip()),
    };
    let teacher_host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        host_of(addr.ip())
    };
    let join_url = format!("http://{host}:{}/#code={}", addr.port(), state.join_code());
    let teacher_url = format!(
        "http://{teacher_host}:{}/teacher#{}",
        addr.port(),
        state.teacher_token()
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = Arc::new(http::App {
        state: state.clone(),
        join_url: join_url.clone(),
    });
    let thread = std::thread::Builder::new()
        .name("class-server".into())
        .spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("class-server-worker")
                .enable_all()
                .build()
                .map_err(|e| format!("starting the runtime: {e}"))?;
            let served = rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(|e| format!("the listener: {e}"))?;
                let accept = tokio::spawn(http::serve(listener, app));
                // Until stopped (or the handle dropped): then no new connection is accepted.
                let _ = stop_rx.await;
                accept.abort();
                Ok(())
            });
            // Requests being answered get a moment to finish (a sequence being saved completes:
            // the blocking pool's work is never cut off midway).
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
            served
        })
        .map_err(|e| ClassError::Server(format!("starting its thread: {e}")))?;
    Ok(ClassServer {
        addr,
        join_url,
        teacher_url,
        state,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

impl ClassServer {
    /// Blocks until the server stops (it stops only on an error or when stopped).
    pub fn wait(mut self) -> Result<(), ClassError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(e))) => Err(ClassError::Server(e)),
            Some(Err(_)) => Err(ClassError::Server("its thread panicked".into())),
        }
    }

    /// Asks the server to stop (open connections finish their request); returns at once.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// The server's thread has ended (stopped, or failed: see [`Self::wait`]).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ClassServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An IP address as the host part of a URL (IPv6 in brackets).
fn host_of(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The address of the interface this machine would reach other machines through: a UDP socket
/// "connected" to a documentation address (no packet is sent). `None` without a route.
fn outward_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}
