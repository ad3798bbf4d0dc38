//! Experiments: presets (TOML) → prepared sequence data → runs (directories) → results tables.

pub mod clip_data;
pub mod dataset;
pub mod preset;
pub mod run;
pub mod tables;
