//! Plain domain types: responses, feedback, categories, metrics. No I/O here.

mod analysis;
mod category;
mod comparison;
mod feedback;
mod fine_tuning;
mod limits;
mod metrics;
mod ranking;
mod response;
mod run;
mod suggestion;
pub(crate) mod time;
mod trend;

pub use analysis::{Categorization, CategorySource, ErrorPattern, PatternExample};
pub use category::{Category, CANONICAL_CATEGORIES};
pub use comparison::{Comparison, Winner};
pub(crate) use feedback::build_kind as feedback_kind;
pub use feedback::{Feedback, FeedbackKind, Polarity, Variant};
pub use fine_tuning::{
    CreateJobRequest, FineTuneMethod, Hyperparameters, JobEvent, JobPage, ProviderJob,
    ProviderJobError, ProviderJobStatus, UploadedFile,
};
pub use limits::Limits;
pub use metrics::{
    Bucket, BucketMetrics, MetricsQuery, MetricsReport, ModelMetrics, ProblematicQuery,
    ProblematicResponse, QualityFigures, RankBy,
};
pub use ranking::{ModelRanking, RankedModel};
pub use response::{Message, ResponseRecord, Role};
pub use run::{PatternChange, PatternDiff, RunDiff, RunList, RunSummary};
pub use suggestion::Suggestion;
pub use time::{
    format_timestamp, in_supported_range, parse_timestamp, Timestamp, SUPPORTED_FROM_MICROS,
    SUPPORTED_RANGE, SUPPORTED_UNTIL_MICROS,
};
pub use trend::{
    CategoryTrend, ChangePoint, DailyTrendCounts, PatternTrend, TrendDirection, TrendQuery,
    TrendReport, WeeklyPoint,
};

/// SHA-256 of a value's JSON form, streamed into the hasher (no intermediate buffer).
/// The message of a conflicting re-import: `what` ("a response") is already stored under the
/// same id with different values in `fields` ("content" when none is named).
pub(crate) fn conflict_message(what: &str, fields: &[&str]) -> String {
    let fields = if fields.is_empty() {
        "content".to_string()
    } else {
        fields.join(", ")
    };
    format!("{what} with this id is already stored with a different {fields}")
}

pub(crate) fn json_sha256<T: serde::Serialize + ?Sized>(value: &T) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(Sha256::new());
    // Serialising model types into a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut w, value);
    w.0.finalize().into()
}
