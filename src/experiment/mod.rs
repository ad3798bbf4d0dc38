//! Experiments: presets (TOML) → prepared sequence data → runs (directories) → results tables.

pub mod builtin;
pub mod clip_data;
pub mod dataset;
pub mod plots;
pub mod preset;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod showcase;
pub mod tables;
