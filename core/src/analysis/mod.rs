//! Pure analysis functions: they take model values and return model values, no I/O.

pub mod metrics;
pub mod problematic;
pub mod stats;
pub mod trend;
pub mod weekly;
