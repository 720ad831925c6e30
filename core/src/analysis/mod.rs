//! Pure analysis functions: they take model values and return model values, no I/O.

pub mod ari;
pub mod bradley_terry;
pub mod categorize;
pub mod cluster;
pub mod metrics;
pub mod patterns;
pub mod pipeline;
pub mod problematic;
pub mod rule_files;
pub mod run_diff;
pub mod stats;
pub mod stopwords;
pub mod suggest;
pub mod trend;
pub mod weekly;

/// The most weeks a weekly series holds: trends (per category and per pattern) and
/// `metrics --bucket week` keep the newest 520 weeks (ten years) ending at the newest data,
/// and leave older responses out of the series (they are counted as omitted). Mann-Kendall
/// and Sen's slope are O(n²) in the series length, so this is what bounds their memory
/// (~1 MB) and time whatever the stored times are.
pub const MAX_SERIES_WEEKS: usize = 520;

/// The most days `metrics --bucket day` holds: the newest 3,660 days (ten years) ending at
/// the newest data.
pub const MAX_SERIES_DAYS: usize = 3_660;
