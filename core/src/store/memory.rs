//! The in-memory store: the reference implementation, for tests and embedded use.

use super::comparison_rules::{self, ResponseFacts};
use super::day_tallies::split_by_days;
use super::types::*;
use super::{precheck_feedback, precheck_response, DailyTrendCounts, FeedbackStore, WriteTx};
use crate::analysis::metrics::{assemble_report, bucket_start_micros, ModelTallies, Tally};
use crate::analysis::problematic::{figures_of, summarize, top};
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{
    Comparison, Feedback, Limits, MetricsQuery, MetricsReport, Polarity, ProblematicQuery,
    ProblematicResponse, ResponseRecord,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A store that keeps everything in process memory. Metrics scan compact columns, so they
/// stay fast on millions of feedback items.
///
/// ```
/// use tuneloop::store::{FeedbackStore, MemoryStore};
/// let store = MemoryStore::new();
/// assert_eq!(store.backend(), "memory");
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    inner: RwLock<Inner>,
    writer: Arc<Mutex<()>>,
    limits: Limits,
    /// The credit ledger handed out by [`FeedbackStore::ledger`].
    ledger: crate::credits::MemoryLedger,
}

/// Rows plus columnar copies of the fields metrics read.
#[derive(Debug, Default)]
struct Inner {
    responses: Vec<ResponseRecord>,
    response_hash: Vec<[u8; 32]>,
    response_model: Vec<u32>,
    response_micros: Vec<i64>,
    response_index: HashMap<String, u32>,

    feedback: Vec<Feedback>,
    feedback_hash: Vec<[u8; 32]>,
    feedback_response: Vec<u32>,
    feedback_polarity: Vec<Polarity>,
    /// `polarity_slot * 6 + rating` (rating 0 = none): one byte that metrics count directly.
    feedback_code: Vec<u8>,
    /// Offsets into `category_ids`: item i owns `category_ids[cat_start[i]..cat_start[i+1]]`.
    cat_start: Vec<u32>,
    category_ids: Vec<u16>,
    feedback_index: HashMap<String, u32>,
    /// Feedback positions per response, in insertion order.
    feedback_by_response: Vec<Vec<u32>>,
    /// Response positions per day of their creation (days since the epoch, UTC): metrics
    /// with a bound inside a day read that day's responses only.
    responses_by_day: HashMap<i64, Vec<u32>>,

    models: Vec<String>,
    model_index: HashMap<String, u32>,
    categories: Vec<String>,
    category_index: HashMap<String, u16>,
    /// Running tallies per (model, response day), kept on insert, so metrics whose bounds
    /// are whole days (or absent) need no scan.
    daily: HashMap<(u32, i64), FastTally>,
    /// Negative items per interned category (each once per item) per (model, response
    /// day), kept on insert: the trend series.
    daily_negatives: HashMap<(u32, i64), Vec<u64>>,

    comparisons: Vec<StoredComparison>,
    comparison_hash: Vec<[u8; 32]>,
    comparison_index: HashMap<String, u32>,

    runs: BTreeMap<String, RunRecord>,
    jobs: BTreeMap<String, JobRecord>,
    job_files: BTreeMap<(String, String), JobFile>,
    job_events: BTreeMap<String, Vec<JobEventRecord>>,
    next_event_seq: u64,
    leases: BTreeMap<String, Lease>,
}

impl MemoryStore {
    /// An empty store with default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// An empty store with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                inner: RwLock::default(),
                writer: Arc::default(),
                limits,
                ledger: Default::default(),
            }),
        }
    }
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-read; the data is intact
        // because every mutation happens in `Inner::apply` without panicking paths.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn intern_model(&mut self, model: &str) -> u32 {
        if let Some(&i) = self.model_index.get(model) {
            return i;
        }
        let i = self.models.len() as u32;
        self.models.push(model.to_string());
        self.model_index.insert(model.to_string(), i);
        i
    }

    fn intern_category(&mut self, cat: &str) -> u16 {
        if let Some(&i) = self.category_index.get(cat) {
            return i;
        }
        let i = self.categories.len() as u16;
        self.categories.push(cat.to_string());
        self.category_index.insert(cat.to_string(), i);
        i
    }

    fn push_response(&mut self, r: ResponseRecord, hash: [u8; 32]) {
        let idx = self.responses.len() as u32;
        let model = self.intern_model(&r.model_id);
        self.response_model.push(model);
        let micros = to_micros(&r.created_at);
        let day = micros.div_euclid(DAY_MICROS);
        self.daily.entry((model, day)).or_default().responses += 1;
        self.responses_by_day.entry(day).or_default().push(idx);
        self.response_micros.push(micros);
        self.response_index.insert(r.id.clone(), idx);
        self.response_hash.push(hash);
        self.feedback_by_response.push(Vec::new());
        self.responses.push(r);
    }

    fn push_feedback(&mut self, f: Feedback, hash: [u8; 32]) {
        let Some(&ridx) = self.response_index.get(&f.response_id) else {
            return; // checked by the transaction before commit
        };
        let idx = self.feedback.len() as u32;
        if self.cat_start.is_empty() {
            self.cat_start.push(0);
        }
        for c in f.categories() {
            let id = self.intern_category(c.as_str());
            self.category_ids.push(id);
        }
        self.cat_start.push(self.category_ids.len() as u32);
        self.feedback_response.push(ridx);
        self.feedback_polarity.push(f.polarity());
        let code = polarity_slot(f.polarity()) as u8 * 6 + f.rating().unwrap_or(0);
        self.feedback_code.push(code);
        let day_key = (
            self.response_model[ridx as usize],
            self.response_micros[ridx as usize].div_euclid(DAY_MICROS),
        );
        if f.polarity() == Polarity::Negative {
            let mut ids =
                self.category_ids[self.cat_start[self.cat_start.len() - 2] as usize..].to_vec();
            ids.sort_unstable();
            ids.dedup();
            let neg = self.daily_negatives.entry(day_key).or_default();
            for c in ids {
                let c = usize::from(c);
                if neg.len() <= c {
                    neg.resize(c + 1, 0);
                }
                neg[c] += 1;
            }
        }
        let day = self.daily.entry(day_key).or_default();
        day.codes[usize::from(code) % 18] += 1;
        let first = self.cat_start[self.cat_start.len() - 2] as usize;
        for &c in &self.category_ids[first..] {
            let c = usize::from(c);
            if day.categories.len() <= c {
                day.categories.resize(c + 1, 0);
            }
            day.categories[c] += 1;
        }
        self.feedback_index.insert(f.id.clone(), idx);
        self.feedback_hash.push(hash);
        self.feedback_by_response[ridx as usize].push(idx);
        self.feedback.push(f);
    }

    fn push_comparison(&mut self, c: StoredComparison, hash: [u8; 32]) {
        let idx = self.comparisons.len() as u32;
        self.comparison_index.insert(c.comparison.id.clone(), idx);
        self.comparison_hash.push(hash);
        self.comparisons.push(c);
    }

    fn feedback_matches(&self, i: usize, filter: &FeedbackFilter) -> bool {
        let f = &self.feedback[i];
        let r = &self.responses[self.feedback_response[i] as usize];
        filter.model.as_deref().is_none_or(|m| m == r.model_id)
            && filter
                .response_id
                .as_deref()
                .is_none_or(|id| id == f.response_id)
            && filter.since.is_none_or(|s| f.created_at >= s)
            && filter.until.is_none_or(|u| f.created_at < u)
            && filter
                .polarity
                .is_none_or(|p| p == self.feedback_polarity[i])
            && filter.variant.is_none_or(|v| v == f.variant())
            && filter
                .category
                .as_ref()
                .is_none_or(|c| f.categories().contains(c))
    }
}

fn parse_cursor(after: &Option<String>) -> Result<usize> {
    match after {
        None => Ok(0),
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| Error::invalid("after", format!("`{c}` is not a cursor from this store"))),
    }
}

fn page_of<T: Clone>(
    items: &[T],
    start: usize,
    limit: usize,
    mut keep: impl FnMut(usize) -> bool,
) -> Page<T> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut i = start;
    while i < items.len() {
        if keep(i) {
            if out.len() == limit {
                return Page {
                    items: out,
                    next: Some(i.to_string()),
                };
            }
            out.push(items[i].clone());
        }
        i += 1;
    }
    Page {
        items: out,
        next: None,
    }
}

/// Names the fields that differ, for conflict messages.
pub(crate) fn response_diff(a: &ResponseRecord, b: &ResponseRecord) -> String {
    let mut fields = Vec::new();
    if a.model_id != b.model_id {
        fields.push("model_id");
    }
    if a.query != b.query {
        fields.push("query");
    }
    if a.response != b.response {
        fields.push("response");
    }
    if a.conversation != b.conversation {
        fields.push("conversation");
    }
    if a.metadata != b.metadata {
        fields.push("metadata");
    }
    if a.created_at != b.created_at {
        fields.push("created_at");
    }
    crate::model::conflict_message("a response", &fields)
}

/// Names the fields that differ, for conflict messages.
pub(crate) fn feedback_diff(a: &Feedback, b: &Feedback) -> String {
    let mut fields = Vec::new();
    if a.response_id != b.response_id {
        fields.push("response_id");
    }
    if a.kind != b.kind {
        fields.push("variant/rating/categories/correction");
    }
    if a.comment != b.comment {
        fields.push("comment");
    }
    if a.user_id != b.user_id {
        fields.push("user_id");
    }
    if a.created_at != b.created_at {
        fields.push("created_at");
    }
    crate::model::conflict_message("a feedback item", &fields)
}

#[async_trait]
impl FeedbackStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn ledger(&self) -> Option<Arc<dyn crate::credits::CreditLedger>> {
        Some(Arc::new(self.shared.ledger.clone()))
    }

    async fn begin_write(&self) -> Result<Box<dyn WriteTx>> {
        let guard = self.shared.writer.clone().lock_owned().await;
        Ok(Box::new(MemoryTx {
            shared: self.shared.clone(),
            _guard: guard,
            responses: Vec::new(),
            response_index: HashMap::new(),
            feedback: Vec::new(),
            feedback_index: HashMap::new(),
            comparisons: Vec::new(),
            comparison_index: HashMap::new(),
            summary: WriteSummary::default(),
        }))
    }

    async fn get_response(&self, id: &str) -> Result<Option<ResponseRecord>> {
        let inner = self.shared.read();
        Ok(inner
            .response_index
            .get(id)
            .map(|&i| inner.responses[i as usize].clone()))
    }

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>> {
        let inner = self.shared.read();
        Ok(inner
            .feedback_index
            .get(id)
            .map(|&i| inner.feedback[i as usize].clone()))
    }

    async fn list_responses(
        &self,
        filter: &ResponseFilter,
        page: &PageRequest,
    ) -> Result<Page<ResponseRecord>> {
        let start = parse_cursor(&page.after)?;
        let inner = self.shared.read();
        Ok(page_of(&inner.responses, start, page.limit, |i| {
            let r = &inner.responses[i];
            filter.model.as_deref().is_none_or(|m| m == r.model_id)
                && filter.since.is_none_or(|s| r.created_at >= s)
                && filter.until.is_none_or(|u| r.created_at < u)
        }))
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        page: &PageRequest,
    ) -> Result<Page<Feedback>> {
        let start = parse_cursor(&page.after)?;
        let inner = self.shared.read();
        Ok(page_of(&inner.feedback, start, page.limit, |i| {
            inner.feedback_matches(i, filter)
        }))
    }

    async fn get_comparison(&self, id: &str) -> Result<Option<Comparison>> {
        let inner = self.shared.read();
        Ok(inner
            .comparison_index
            .get(id)
            .map(|&i| inner.comparisons[i as usize].comparison.clone()))
    }

    async fn list_comparisons(
        &self,
        filter: &ComparisonFilter,
        page: &PageRequest,
    ) -> Result<Page<StoredComparison>> {
        let start = parse_cursor(&page.after)?;
        let inner = self.shared.read();
        Ok(page_of(&inner.comparisons, start, page.limit, |i| {
            filter.matches(&inner.comparisons[i])
        }))
    }

    async fn metrics(&self, query: &MetricsQuery) -> Result<MetricsReport> {
        let inner = self.shared.read();
        Ok(fast_metrics(&inner, query))
    }

    async fn daily_trend_counts(
        &self,
        model: Option<&str>,
        from_day: Option<i64>,
        to_day: Option<i64>,
    ) -> Result<DailyTrendCounts> {
        let inner = self.shared.read();
        let mut out = DailyTrendCounts::default();
        let model = match model {
            Some(m) => match inner.model_index.get(m) {
                Some(&i) => Some(i),
                None => return Ok(out),
            },
            None => None,
        };
        let wanted = |&(m, day): &(u32, i64)| {
            model.is_none_or(|k| k == m)
                && from_day.is_none_or(|d| day >= d)
                && to_day.is_none_or(|d| day < d)
        };
        for (key, t) in inner.daily.iter().filter(|(k, _)| wanted(k)) {
            *out.responses.entry(key.1).or_default() += t.responses;
        }
        for (key, counts) in inner.daily_negatives.iter().filter(|(k, _)| wanted(k)) {
            for (c, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
                *out.negatives
                    .entry(inner.categories[c].clone())
                    .or_default()
                    .entry(key.1)
                    .or_default() += n;
            }
        }
        Ok(out)
    }

    async fn problematic(&self, query: &ProblematicQuery) -> Result<Vec<ProblematicResponse>> {
        let inner = self.shared.read();
        let mut out = Vec::new();
        for (ri, r) in inner.responses.iter().enumerate() {
            if query.model.as_deref().is_some_and(|m| m != r.model_id)
                || query.since.is_some_and(|s| r.created_at < s)
                || query.until.is_some_and(|u| r.created_at >= u)
            {
                continue;
            }
            let fb = &inner.feedback_by_response[ri];
            if !fb
                .iter()
                .any(|&i| inner.feedback_polarity[i as usize] == Polarity::Negative)
            {
                continue;
            }
            let items: Vec<&Feedback> = fb.iter().map(|&i| &inner.feedback[i as usize]).collect();
            out.extend(summarize(r, &items));
        }
        Ok(top(out, figures_of, query.rank_by, query.limit))
    }

    async fn stats(&self) -> Result<StoreStats> {
        let inner = self.shared.read();
        let mut models = inner.models.clone();
        models.sort();
        Ok(StoreStats {
            responses: inner.responses.len() as u64,
            feedback: inner.feedback.len() as u64,
            models,
        })
    }

    async fn health(&self) -> Result<HealthReport> {
        Ok(HealthReport {
            backend: "memory".into(),
            ..HealthReport::default()
        })
    }

    async fn save_run(&self, run: &RunRecord) -> Result<()> {
        let mut inner = self.shared.write();
        match inner.runs.get(&run.id) {
            Some(existing) if existing == run => Ok(()),
            Some(_) => Err(Error::Conflict {
                kind: "run",
                id: run.id.clone(),
                reason: "a run with this id is already stored with other content".into(),
            }),
            None => {
                inner.runs.insert(run.id.clone(), run.clone());
                Ok(())
            }
        }
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        Ok(self.shared.read().runs.get(id).cloned())
    }

    async fn list_runs(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunRecord>> {
        let inner = self.shared.read();
        let mut runs: Vec<RunRecord> = inner
            .runs
            .values()
            .filter(|r| kind.is_none_or(|k| k == r.kind))
            .cloned()
            .collect();
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        if limit > 0 {
            runs.truncate(limit);
        }
        Ok(runs)
    }

    async fn put_job(&self, job: &JobRecord, expected_version: Option<u64>) -> Result<u64> {
        let mut inner = self.shared.write();
        let current = inner.jobs.get(&job.id).map(|j| j.version);
        let version = match (expected_version, current) {
            (None, None) => 1,
            (None, Some(_)) => {
                return Err(Error::Conflict {
                    kind: "job",
                    id: job.id.clone(),
                    reason: "a job with this id already exists".into(),
                })
            }
            (Some(_), None) => {
                return Err(Error::NotFound {
                    kind: "job",
                    id: job.id.clone(),
                })
            }
            (Some(expected), Some(found)) if expected == found => found + 1,
            (Some(expected), Some(found)) => {
                return Err(Error::Conflict {
                    kind: "job",
                    id: job.id.clone(),
                    reason: format!("expected version {expected}, found {found}"),
                })
            }
        };
        let mut stored = job.clone();
        stored.version = version;
        inner.jobs.insert(job.id.clone(), stored);
        Ok(version)
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>> {
        Ok(self.shared.read().jobs.get(id).cloned())
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        let inner = self.shared.read();
        let mut jobs: Vec<JobRecord> = inner
            .jobs
            .values()
            .filter(|j| filter.model_id.as_deref().is_none_or(|m| m == j.model_id))
            .filter(|j| filter.status.as_deref().is_none_or(|s| s == j.status))
            .cloned()
            .collect();
        jobs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        if filter.limit > 0 {
            jobs.truncate(filter.limit);
        }
        Ok(jobs)
    }

    async fn put_job_file(&self, job_id: &str, file: &JobFile) -> Result<()> {
        super::job_rules::check_job_file(job_id, file)?;
        let mut inner = self.shared.write();
        let key = (job_id.to_string(), file.name.clone());
        match inner.job_files.get(&key) {
            Some(existing) if existing == file => Ok(()),
            Some(_) => Err(super::job_rules::file_conflict(job_id, &file.name)),
            None => {
                inner.job_files.insert(key, file.clone());
                Ok(())
            }
        }
    }

    async fn get_job_file(&self, job_id: &str, name: &str) -> Result<Option<JobFile>> {
        let key = (job_id.to_string(), name.to_string());
        Ok(self.shared.read().job_files.get(&key).cloned())
    }

    async fn append_job_events(&self, job_id: &str, events: &[JobEventRecord]) -> Result<usize> {
        super::job_rules::check_events(events)?;
        let mut guard = self.shared.write();
        let inner = &mut *guard;
        let list = inner.job_events.entry(job_id.to_string()).or_default();
        let mut added = 0;
        for e in events {
            if list.iter().any(|x| x.id == e.id) {
                continue;
            }
            inner.next_event_seq += 1;
            let mut stored = e.clone();
            stored.seq = inner.next_event_seq;
            list.push(stored);
            added += 1;
        }
        Ok(added)
    }

    async fn list_job_events(&self, job_id: &str) -> Result<Vec<JobEventRecord>> {
        Ok(self
            .shared
            .read()
            .job_events
            .get(job_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>> {
        super::job_rules::check_lease_args(name, holder, ttl)?;
        let now = crate::model::time::now();
        let mut inner = self.shared.write();
        let next = super::job_rules::lease_after(inner.leases.get(name), name, holder, now, ttl);
        if let Some(lease) = &next {
            inner.leases.insert(name.to_string(), lease.clone());
        }
        Ok(next)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let mut inner = self.shared.write();
        match inner.leases.get(name) {
            Some(l) if l.holder == holder => {
                inner.leases.remove(name);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get_lease(&self, name: &str) -> Result<Option<Lease>> {
        Ok(self.shared.read().leases.get(name).cloned())
    }

    async fn take_over_lease(
        &self,
        name: &str,
        from_holder: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>> {
        super::job_rules::check_lease_args(name, holder, ttl)?;
        let now = crate::model::time::now();
        let mut inner = self.shared.write();
        match inner.leases.get_mut(name) {
            Some(l) if l.holder == from_holder => {
                *l = Lease {
                    name: name.to_string(),
                    holder: holder.to_string(),
                    acquired_at: now,
                    expires_at: super::job_rules::expiry(now, ttl),
                };
                Ok(Some(l.clone()))
            }
            _ => Ok(None),
        }
    }
}

/// Per-model counters over interned categories; turned into [`Tally`] at the end.
#[derive(Clone, Debug, Default)]
struct FastTally {
    responses: u64,
    /// Counts per feedback code (`polarity_slot * 6 + rating`).
    codes: [u64; 18],
    categories: Vec<u64>,
}

fn polarity_slot(p: Polarity) -> usize {
    match p {
        Polarity::Negative => 0,
        Polarity::Neutral => 1,
        Polarity::Positive => 2,
    }
}

impl FastTally {
    #[inline]
    fn add_feedback(&mut self, inner: &Inner, i: usize) {
        self.codes[usize::from(inner.feedback_code[i]) % 18] += 1;
        let (a, b) = (inner.cat_start[i] as usize, inner.cat_start[i + 1] as usize);
        if a != b {
            for &c in &inner.category_ids[a..b] {
                let c = c as usize;
                if self.categories.len() <= c {
                    self.categories.resize(c + 1, 0);
                }
                self.categories[c] += 1;
            }
        }
    }

    fn into_tally(self, inner: &Inner) -> Tally {
        let mut tally = Tally {
            responses: self.responses,
            categories: self
                .categories
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(c, &n)| (inner.categories[c].clone(), n))
                .collect(),
            ..Tally::default()
        };
        for (code, &n) in self.codes.iter().enumerate() {
            let polarity = match code / 6 {
                0 => Polarity::Negative,
                1 => Polarity::Neutral,
                _ => Polarity::Positive,
            };
            let rating = (code % 6) as u64;
            tally.add_feedback_group(polarity, (rating > 0).then_some(rating), n);
        }
        tally
    }
}

/// Per-model tallies over a metrics range: totals and, with a bucket, per bucket start.
struct RangeTallies {
    totals: Vec<FastTally>,
    buckets: Vec<BTreeMap<i64, FastTally>>,
}

impl FastTally {
    fn merge(&mut self, other: &FastTally) {
        self.responses += other.responses;
        for (a, b) in self.codes.iter_mut().zip(other.codes) {
            *a += b;
        }
        if self.categories.len() < other.categories.len() {
            self.categories.resize(other.categories.len(), 0);
        }
        for (c, n) in other.categories.iter().enumerate() {
            self.categories[c] += n;
        }
    }
}

impl RangeTallies {
    fn new(n_models: usize) -> Self {
        RangeTallies {
            totals: vec![FastTally::default(); n_models],
            buckets: vec![BTreeMap::new(); n_models],
        }
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

fn fast_metrics(inner: &Inner, query: &MetricsQuery) -> MetricsReport {
    let model_filter = match &query.model {
        Some(m) => match inner.model_index.get(m) {
            Some(&i) => Some(i),
            None => return MetricsReport::default(),
        },
        None => None,
    };
    let acc = day_and_edge_tallies(inner, query, model_filter);
    let RangeTallies { totals, buckets } = acc;
    let mut tallies = ModelTallies::default();
    for (m, (total, per)) in totals.into_iter().zip(buckets).enumerate() {
        let per = query.bucket.map(|_| {
            per.into_iter()
                .map(|(k, t)| (k, t.into_tally(inner)))
                .collect()
        });
        tallies.add_model(&inner.models[m], total.into_tally(inner), per);
    }
    assemble_report(tallies, query.bucket)
}

/// Whole days of the range from the running per-day tallies, and a first or last day that
/// a bound cuts (not midnight UTC) from that day's responses and their feedback: the cost
/// follows the number of days and of one day's rows, not the history.
fn day_and_edge_tallies(
    inner: &Inner,
    query: &MetricsQuery,
    model_filter: Option<u32>,
) -> RangeTallies {
    let split = split_by_days(
        query.since.map(|t| to_micros(&t)),
        query.until.map(|t| to_micros(&t)),
    );
    let mut acc = RangeTallies::new(inner.models.len());
    if let Some((first, end)) = split.whole {
        add_whole_days(&mut acc, inner, query, model_filter, first, end);
    }
    for (from, to) in split.rows {
        for day in from.div_euclid(DAY_MICROS)..=(to - 1).div_euclid(DAY_MICROS) {
            add_day_rows(&mut acc, inner, query, model_filter, day, (from, to));
        }
    }
    acc
}

/// Adds the running tallies of the days in `[lo, hi)` (open where `None`).
fn add_whole_days(
    acc: &mut RangeTallies,
    inner: &Inner,
    query: &MetricsQuery,
    model_filter: Option<u32>,
    lo: Option<i64>,
    hi: Option<i64>,
) {
    for (&(m, day), t) in &inner.daily {
        if model_filter.is_some_and(|f| f != m)
            || lo.is_some_and(|lo| day < lo)
            || hi.is_some_and(|hi| day >= hi)
        {
            continue;
        }
        let m = m as usize;
        acc.totals[m].merge(t);
        if let Some(b) = query.bucket {
            acc.buckets[m]
                .entry(bucket_start_micros(day * DAY_MICROS, b))
                .or_default()
                .merge(t);
        }
    }
}

/// Adds the responses of `day` made in `[from, to)` (microseconds), with their feedback.
fn add_day_rows(
    acc: &mut RangeTallies,
    inner: &Inner,
    query: &MetricsQuery,
    model_filter: Option<u32>,
    day: i64,
    (from, to): (i64, i64),
) {
    let Some(responses) = inner.responses_by_day.get(&day) else {
        return;
    };
    for &ri in responses {
        let ri = ri as usize;
        let (m, t) = (inner.response_model[ri], inner.response_micros[ri]);
        if model_filter.is_some_and(|f| f != m) || t < from || t >= to {
            continue;
        }
        let m = m as usize;
        let feedback = &inner.feedback_by_response[ri];
        let total = &mut acc.totals[m];
        total.responses += 1;
        for &fi in feedback {
            total.add_feedback(inner, fi as usize);
        }
        if let Some(b) = query.bucket {
            let bucket = acc.buckets[m].entry(bucket_start_micros(t, b)).or_default();
            bucket.responses += 1;
            for &fi in feedback {
                bucket.add_feedback(inner, fi as usize);
            }
        }
    }
}

/// A staged write: checked against the store and itself, applied on commit.
struct MemoryTx {
    shared: Arc<Shared>,
    _guard: OwnedMutexGuard<()>,
    responses: Vec<(ResponseRecord, [u8; 32])>,
    response_index: HashMap<String, usize>,
    feedback: Vec<(Feedback, [u8; 32])>,
    feedback_index: HashMap<String, usize>,
    comparisons: Vec<(StoredComparison, [u8; 32])>,
    comparison_index: HashMap<String, usize>,
    summary: WriteSummary,
}

#[async_trait]
impl WriteTx for MemoryTx {
    async fn write(&mut self, batch: &RecordBatch) -> Result<BatchOutcome> {
        let limits = self.shared.limits;
        let inner = self.shared.read();
        let mut outcome = BatchOutcome::default();
        for r in &batch.responses {
            let o = if let Some(rej) = precheck_response(r, &limits) {
                ItemOutcome::Rejected(rej)
            } else {
                let hash = r.content_hash();
                let existing = inner
                    .response_index
                    .get(&r.id)
                    .map(|&i| {
                        (
                            &inner.responses[i as usize],
                            inner.response_hash[i as usize],
                        )
                    })
                    .or_else(|| {
                        self.response_index
                            .get(&r.id)
                            .map(|&i| (&self.responses[i].0, self.responses[i].1))
                    });
                match existing {
                    Some((_, h)) if h == hash => ItemOutcome::Unchanged,
                    Some((e, _)) => ItemOutcome::Rejected(Rejection::Conflict {
                        reason: response_diff(e, r),
                    }),
                    None => {
                        self.response_index
                            .insert(r.id.clone(), self.responses.len());
                        self.responses.push((r.clone(), hash));
                        ItemOutcome::Inserted
                    }
                }
            };
            outcome.responses.push(o);
        }
        for f in &batch.feedback {
            let o = if let Some(rej) = precheck_feedback(f, &limits) {
                ItemOutcome::Rejected(rej)
            } else if !inner.response_index.contains_key(&f.response_id)
                && !self.response_index.contains_key(&f.response_id)
            {
                ItemOutcome::Rejected(Rejection::UnknownResponse {
                    response_id: f.response_id.clone(),
                })
            } else {
                let hash = f.content_hash();
                let existing = inner
                    .feedback_index
                    .get(&f.id)
                    .map(|&i| (&inner.feedback[i as usize], inner.feedback_hash[i as usize]))
                    .or_else(|| {
                        self.feedback_index
                            .get(&f.id)
                            .map(|&i| (&self.feedback[i].0, self.feedback[i].1))
                    });
                match existing {
                    Some((_, h)) if h == hash => ItemOutcome::Unchanged,
                    Some((e, _)) => ItemOutcome::Rejected(Rejection::Conflict {
                        reason: feedback_diff(e, f),
                    }),
                    None => {
                        self.feedback_index
                            .insert(f.id.clone(), self.feedback.len());
                        self.feedback.push((f.clone(), hash));
                        ItemOutcome::Inserted
                    }
                }
            };
            outcome.feedback.push(o);
        }
        drop(inner);
        self.summary.add(&outcome);
        Ok(outcome)
    }

    async fn write_comparisons(&mut self, comparisons: &[Comparison]) -> Result<Vec<ItemOutcome>> {
        let limits = self.shared.limits;
        let inner = self.shared.read();
        let facts = |id: &str| {
            inner
                .response_index
                .get(id)
                .map(|&i| ResponseFacts::of(&inner.responses[i as usize]))
                .or_else(|| {
                    self.response_index
                        .get(id)
                        .map(|&i| ResponseFacts::of(&self.responses[i].0))
                })
        };
        let mut out = Vec::with_capacity(comparisons.len());
        for c in comparisons {
            let (a, b) = (facts(&c.response_a), facts(&c.response_b));
            let o = match comparison_rules::check(c, &limits, a.as_ref(), b.as_ref()) {
                Err(rej) => ItemOutcome::Rejected(rej),
                Ok((model_a, model_b)) => {
                    let hash = c.content_hash();
                    let existing = inner
                        .comparison_index
                        .get(&c.id)
                        .map(|&i| {
                            (
                                &inner.comparisons[i as usize].comparison,
                                inner.comparison_hash[i as usize],
                            )
                        })
                        .or_else(|| {
                            self.comparison_index.get(&c.id).map(|&i| {
                                (&self.comparisons[i].0.comparison, self.comparisons[i].1)
                            })
                        });
                    match existing {
                        Some((_, h)) if h == hash => ItemOutcome::Unchanged,
                        Some((e, _)) => ItemOutcome::Rejected(Rejection::Conflict {
                            reason: e.conflict_with(c),
                        }),
                        None => {
                            self.comparison_index
                                .insert(c.id.clone(), self.comparisons.len());
                            self.comparisons.push((
                                StoredComparison {
                                    comparison: c.clone(),
                                    model_a,
                                    model_b,
                                },
                                hash,
                            ));
                            ItemOutcome::Inserted
                        }
                    }
                }
            };
            out.push(o);
        }
        drop(inner);
        self.summary.add_comparisons(&out);
        Ok(out)
    }

    async fn commit(self: Box<Self>) -> Result<WriteSummary> {
        let this = *self;
        let mut inner = this.shared.write();
        for (r, h) in this.responses {
            inner.push_response(r, h);
        }
        for (f, h) in this.feedback {
            inner.push_feedback(f, h);
        }
        for (c, h) in this.comparisons {
            inner.push_comparison(c, h);
        }
        Ok(this.summary)
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
