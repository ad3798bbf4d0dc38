//! Sequences of occluded images: pattern libraries, the planner and the sequence builder.

pub mod builder;
pub mod patterns;
pub mod planner;
pub mod render;
pub mod words;
