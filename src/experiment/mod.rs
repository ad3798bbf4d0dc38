//! Experiments: presets (TOML) → prepared sequence data → runs (directories) → results tables.

pub mod builtin;
pub mod dataset;
pub mod plots;
pub mod preset;
pub mod published;
pub mod queue;
pub mod reproduce;
pub mod run;
pub mod showcase;
pub mod sweep;
pub mod tables;
pub mod trained;
pub mod training;
