//! Pure analysis functions: they take model values and return model values, no I/O.

pub mod ari;
pub mod categorize;
pub mod cluster;
pub mod metrics;
pub mod patterns;
pub mod pipeline;
pub mod problematic;
pub mod rule_files;
pub mod stats;
pub mod suggest;
pub mod trend;
pub mod weekly;
