//! Sequences of occluded images: pattern libraries, the planner, the sequence builder, clip data
//! cut into sequences, and the prepared data that training works on.

pub mod builder;
pub mod clip_data;
pub mod patterns;
pub mod planner;
pub mod prepared;
pub mod render;
pub mod words;
