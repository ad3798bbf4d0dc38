//! occlab: experiments on severely occluded image sequences.
//!
//! A headless library (data → occlusion → sequences → models → metrics → runs) with two thin
//! front ends, the GUI (`gui`) and the CLI (`main.rs`). See `DESIGN.md` in the shared folder.

pub mod bench;
pub mod classroom;
pub mod crashpoint;
pub mod csvfile;
pub mod data;
pub mod errors;
pub mod experiment;
pub mod gui;
pub mod metrics;
pub mod model;
pub mod occlusion;
pub mod quiz;
pub mod report;
pub mod sequence;
pub mod train;
