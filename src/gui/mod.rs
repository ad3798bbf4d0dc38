//! The workbench GUI (eframe/egui). It draws what the library computes and turns clicks into
//! library calls; it computes nothing itself.
//!
//! * [`app`]: [`OcclabApp`] (navigation, status bar, persistence); [`workbench`]: [`Workbench`]
//!   (state shared by the panels: data set, occlusion spec, preview seed, background load) and
//!   the panel ids. Panels import `workbench`, never `app`.
//! * [`task`]: the one type for one-shot background work (the UI thread never waits).
//! * one file per panel: [`data_panel`] (with its [`source_form`]), [`occlusion_panel`],
//!   [`patterns_panel`], [`results_panel`] (with its [`reproduce_section`] and [`sweep_section`]), [`train_panel`],
//!   [`quiz_panel`] (with its [`quiz_results`]), [`present_panel`].
//! * [`widgets`]: image grids, level colours and legend.
//!
//! Start-up panel: set `OCCLAB_START_PANEL=occlusion` (or `data`) to open a panel first.

pub mod app;
pub mod data_panel;
pub mod demo_runs;
pub mod occlusion_panel;
pub mod patterns_panel;
pub mod present_panel;
pub mod quiz_panel;
pub mod quiz_results;
pub mod reproduce_section;
pub mod results_panel;
pub mod source_form;
pub mod sweep_section;
pub mod task;
pub mod train_panel;
pub mod widgets;
pub mod workbench;

pub use app::{OcclabApp, Session};
pub use workbench::{LISTED_PANELS, PanelId, Workbench};

use std::path::PathBuf;

/// The window title and the name eframe stores the session under.
pub const APP_NAME: &str = "occlab";

/// Opens the workbench window; returns when it is closed. Relative data paths are resolved
/// against `OCCLAB_DATA_DIR`.
pub fn run_native() -> eframe::Result<()> {
    run_native_with(None)
}

/// Opens the workbench window with an explicit data folder (`--data-dir`).
pub fn run_native_with(data_dir: Option<PathBuf>) -> eframe::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("occlab — occluded sequences workbench")
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([900.0, 600.0]),
        ..Default::default()
    };
    eframe::run_native(
        APP_NAME,
        options,
        Box::new(move |cc| Ok(Box::new(OcclabApp::new(&cc.egui_ctx, cc.storage, data_dir)))),
    )
}
