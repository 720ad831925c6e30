//! Quality over time: metrics, problematic responses, category trends.

use super::records::check_range;
use super::Tuneloop;
use crate::analysis::weekly::{category_trends, category_trends_from_days};
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{
    MetricsQuery, MetricsReport, Polarity, ProblematicQuery, ProblematicResponse, Timestamp,
    TrendQuery, TrendReport,
};
use crate::store::{FeedbackFilter, FeedbackStoreExt, ResponseFilter};
use serde::{Deserialize, Serialize};

/// The responses users were most unhappy with, worst first (`problematic`).
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProblematicReport {
    /// Worst first (see docs/formats.md).
    pub responses: Vec<ProblematicResponse>,
}

const DAY_MICROS: i64 = 86_400_000_000;

impl Tuneloop {
    /// Quality per model over the responses created in `[since, until)`: feedback counts,
    /// positive rate with its 95 % Wilson interval, categories, and per-bucket series.
    pub async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport> {
        check_range(query.since, query.until)?;
        self.store().metrics(query).await
    }

    /// The responses users were most unhappy with, worst first.
    pub async fn problematic(&self, query: &ProblematicQuery) -> Result<ProblematicReport> {
        check_range(query.since, query.until)?;
        let mut responses = self.store().problematic(query).await?;
        if query.redact_pii {
            let redactor = crate::dataset::redact::Redactor::new(&self.config().dataset.redaction)?;
            super::demo::redact_texts(&redactor, &mut responses, &mut []);
        }
        Ok(ProblematicReport { responses })
    }

    /// Weekly trends of each error category's negative rate (Mann-Kendall, Sen's slope).
    pub async fn trends(&self, query: &TrendQuery) -> Result<TrendReport> {
        check_range(query.since, query.until)?;
        let store = self.store();
        // Bounds at midnight UTC (or none) select whole days: the store's daily aggregates
        // answer, at a cost that does not grow with the feedback. Otherwise (or for a store
        // without them) the rows are read.
        let day = |t: Option<Timestamp>| -> Option<Option<i64>> {
            match t.map(|t| to_micros(&t)) {
                None => Some(None),
                Some(m) if m.rem_euclid(DAY_MICROS) == 0 => Some(Some(m.div_euclid(DAY_MICROS))),
                Some(_) => None,
            }
        };
        if let (Some(from), Some(to)) = (day(query.since), day(query.until)) {
            match store
                .daily_trend_counts(query.model.as_deref(), from, to)
                .await
            {
                Ok(days) => {
                    let query = query.clone();
                    return super::blocking("the trend analysis", move || {
                        category_trends_from_days(&days, &query)
                    })
                    .await;
                }
                Err(Error::Unsupported { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let responses = store
            .all_responses(&ResponseFilter {
                model: query.model.clone(),
                since: query.since,
                until: query.until,
            })
            .await?;
        // Only negatives count; the time range applies to the responses (the analysis keeps
        // the feedback on the listed responses), not to when the feedback was given.
        let feedback = store
            .all_feedback(&FeedbackFilter {
                model: query.model.clone(),
                polarity: Some(Polarity::Negative),
                ..Default::default()
            })
            .await?;
        let query = query.clone();
        super::blocking("the trend analysis", move || {
            category_trends(&responses, &feedback, &query)
        })
        .await
    }
}
