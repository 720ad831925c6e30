//! Plain domain types: responses, feedback, categories, metrics. No I/O here.

mod category;
mod feedback;
mod limits;
mod metrics;
mod response;
pub(crate) mod time;

pub use category::{Category, CANONICAL_CATEGORIES};
pub(crate) use feedback::build_kind as feedback_kind;
pub use feedback::{Feedback, FeedbackKind, Polarity, Variant};
pub use limits::Limits;
pub use metrics::{
    Bucket, BucketMetrics, MetricsQuery, MetricsReport, ModelMetrics, ProblematicQuery,
    ProblematicResponse, QualityFigures,
};
pub use response::{Message, ResponseRecord, Role};
pub use time::{format_timestamp, parse_timestamp, Timestamp};
