//! The demo: a synthetic history imported into the handle's store, the report a product
//! team reads, a dataset, and the fine-tuning loop on a simulated provider (or the
//! configured one) — with its files and settings left in one folder, so the commands it
//! suggests work right after it.

use super::Tuneloop;
use crate::analysis::pipeline::AnalysisOptions;
use crate::credits::Balance;
use crate::dataset::redact::{RedactionCounts, Redactor};
use crate::dataset::Manifest;
use crate::demo::{
    generate, DemoOptions, DemoWorld, PlantedPattern, DEMO_ACCOUNT, DEMO_BASE_MODEL, DEMO_GRANT,
    DEMO_MODEL, DEMO_PRICE,
};
use crate::error::{Error, Result};
use crate::jobs::build_from_store;
use crate::jobs::{DraftRequest, FineTuneJob, FineTuneRequest, JobManager, JobStatus};
use crate::mcp::{FineTuningProvider, SimulatedProvider};
use crate::model::{
    format_timestamp, BucketMetrics, CategoryTrend, ErrorPattern, MetricsQuery, MetricsReport,
    ProblematicQuery, ProblematicResponse, Suggestion, Timestamp,
};
use crate::policy::Decision;
use crate::sources::analyze_store;
use crate::store::{JobFilter, RecordBatch, WriteSummary};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The folder the demo leaves its files in when none is given (relative to the working
/// directory).
pub const DEFAULT_DEMO_DIR: &str = "tuneloop-demo";
/// The demo's settings file, in its folder.
pub const DEMO_SETTINGS_FILE: &str = "tuneloop.toml";
/// The demo's dataset directory, in its folder.
pub const DEMO_DATASET_DIR: &str = "dataset";
/// The first line of the settings file the demo writes: a file without it is not the
/// demo's and is never overwritten.
const SETTINGS_HEADER: &str = "# Written by `tuneloop demo`";
/// Items per write call: keeps each statement well inside database limits.
const CHUNK: usize = 1_000;
/// Longest wait for a real server's job to finish.
const REAL_TIMEOUT: Duration = Duration::from_secs(180);

/// What the demo generates and where it leaves its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoRunOptions {
    /// Seed of the generator: the same seed gives the same history.
    pub seed: u64,
    /// Weeks of history, ending 2026-11-23 (1 to 520).
    pub weeks: u32,
    /// The folder for the dataset and the settings file; `None`: `./tuneloop-demo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Report queries, answers and comments as users wrote them; by default personal data
    /// in them (emails, phone and card numbers, ...) is replaced by `[KIND]` placeholders.
    pub show_pii: bool,
}

impl Default for DemoRunOptions {
    fn default() -> Self {
        let world = DemoOptions::default();
        DemoRunOptions {
            seed: world.seed,
            weeks: world.weeks,
            dir: None,
            show_pii: false,
        }
    }
}

/// One week of one model's feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// The week's first day.
    #[serde(with = "crate::model::time::serde_ts")]
    pub start: Timestamp,
    /// Feedback items.
    pub feedback: u64,
    /// Positive items.
    pub positive: u64,
    /// `positive / feedback` (`null` without feedback).
    pub positive_rate: Option<f64>,
}

/// The first weeks against the last: did the positive rate move more than noise would?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyChange {
    /// Weeks pooled at each end (a quarter of the range, at least one).
    pub weeks: usize,
    /// Positive rate of the first weeks.
    pub first_rate: f64,
    /// Positive rate of the last weeks.
    pub last_rate: f64,
    /// `last_rate − first_rate`, in percentage points.
    pub delta_points: f64,
    /// `improving`, `getting worse` (a two-proportion z-test at the 5 % level) or
    /// `no significant change`.
    pub verdict: String,
}

/// One model's weekly series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyModel {
    /// The model.
    pub model_id: String,
    /// Oldest first.
    pub weeks: Vec<WeekFigures>,
    /// `None` when either end has no feedback.
    pub change: Option<WeeklyChange>,
}

/// The dataset the demo built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoDataset {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest (counts, tokens, redactions, lineage).
    pub manifest: Manifest,
}

/// What the demo's fine-tuning loop did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoLoopReport {
    /// `simulated`, or the configured server (URL, password hidden) or provider.
    pub provider: String,
    /// Whether nothing was trained (the in-process simulated provider).
    pub simulated: bool,
    /// The model fine-tuned.
    pub model_id: String,
    /// The base model it trains from.
    pub base_model: String,
    /// The credit account that pays.
    pub account: String,
    /// The decision (`None` when an earlier demo run's job was found without one).
    pub decision: Option<Decision>,
    /// The job.
    pub job: Option<FineTuneJob>,
    /// Statuses the job went through in this run.
    pub statuses: Vec<JobStatus>,
    /// A job from an earlier run of the demo was found and reported instead.
    pub earlier_job: bool,
    /// The account before the loop.
    pub balance_before: Balance,
    /// The account after it.
    pub balance_after: Balance,
}

/// Everything the demo did and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoReport {
    /// The generator's seed.
    pub seed: u64,
    /// Weeks of history.
    pub weeks: u32,
    /// Start of the history.
    #[serde(with = "crate::model::time::serde_ts")]
    pub since: Timestamp,
    /// End of the history (exclusive): the demo's "now".
    #[serde(with = "crate::model::time::serde_ts")]
    pub until: Timestamp,
    /// The database, password hidden.
    pub database: String,
    /// Whether the data outlives this process (`false` for `memory://`): only then can
    /// later commands look at it.
    pub persistent: bool,
    /// The folder with the demo's files.
    pub dir: PathBuf,
    /// The settings the demo's commands use (`--config`): its account, base model, price,
    /// clock, and the MCP server when one was used.
    pub settings_file: PathBuf,
    /// Whether personal data in texts below was replaced by placeholders.
    pub redacted: bool,
    /// What the import stored.
    pub import: WriteSummary,
    /// Quality per model over the history (without per-week buckets: see `weekly`).
    pub metrics: MetricsReport,
    /// The weekly positive rate per model.
    pub weekly: Vec<WeeklyModel>,
    /// The five responses users were most unhappy with.
    pub problematic: Vec<ProblematicResponse>,
    /// Error patterns, largest first.
    pub patterns: Vec<ErrorPattern>,
    /// Weekly trends per error category.
    pub trends: Vec<CategoryTrend>,
    /// Suggestions, most urgent first.
    pub suggestions: Vec<Suggestion>,
    /// The issues planted in the history (the truth an analysis should find).
    pub planted: Vec<PlantedPattern>,
    /// The dataset built for the demo model.
    pub dataset: DemoDataset,
    /// The fine-tuning loop.
    pub fine_tune: DemoLoopReport,
}

impl Tuneloop {
    /// Generates the demo history (seeded: same options, same records), imports it in one
    /// transaction (again: nothing new), reports quality, problems, patterns, trends and
    /// suggestions over it, builds a dataset for `support-bot-v2`, grants the `demo`
    /// account credits (once per seed) and runs the fine-tuning loop — on an in-process
    /// simulated provider unless this handle has one configured — deciding as of the
    /// history's end. Leaves in `options.dir` the dataset and a settings file with the
    /// demo's account, base model, price and clock, so `check all` and `fine-tune` work on
    /// the demo database with it.
    ///
    /// Errors: a database holding a demo of another seed or length ([`Error::Conflict`]); a
    /// folder holding files the demo did not write ([`Error::InvalidInput`] on `dir`).
    pub async fn demo(&self, options: &DemoRunOptions) -> Result<DemoReport> {
        if !(1..=520).contains(&options.weeks) {
            return Err(Error::invalid(
                "weeks",
                format!("{} is not between 1 and 520", options.weeks),
            ));
        }
        let world_options = DemoOptions {
            seed: options.seed,
            weeks: options.weeks,
            ..Default::default()
        };
        let dir = options
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DIR));
        let settings_file = dir.join(DEMO_SETTINGS_FILE);
        let dataset_dir = dir.join(DEMO_DATASET_DIR);
        // Refused before anything is written: the folder is the user's otherwise.
        check_settings_file(&settings_file)?;
        if let Some(db) = self.database_file() {
            let protected = [crate::io::Protected {
                path: &db,
                what: crate::io::DATABASE,
            }];
            crate::io::check_output_path("dir", &dataset_dir, &protected)?;
        }

        let world = super::blocking("the demo generator", move || generate(&world_options)).await?;
        let import = self.write_world(&world).await?;
        let end = DemoOptions::default().end;
        let since = end - chrono::Duration::weeks(i64::from(options.weeks));
        let store = self.store();
        let mut metrics = store
            .metrics(&MetricsQuery {
                model: None,
                since: Some(since),
                until: Some(end),
                bucket: Some(crate::model::Bucket::Week),
            })
            .await?;
        let weekly = metrics.models.iter().map(weekly_model).collect();
        for m in &mut metrics.models {
            m.buckets = None;
        }
        let mut problematic = store
            .problematic(&ProblematicQuery {
                model: None,
                since: Some(since),
                until: Some(end),
                limit: 5,
                redact_pii: false,
                ..ProblematicQuery::default()
            })
            .await?;
        let analysis = analyze_store(
            store.as_ref(),
            &AnalysisOptions {
                since: Some(since),
                until: Some(end),
                ..Default::default()
            },
        )
        .await?;
        let mut patterns = analysis.patterns;

        let mut dataset_config = self.config().dataset.clone();
        dataset_config.since = Some(since);
        dataset_config.until = Some(end);
        let dataset = build_from_store(store.as_ref(), DEMO_MODEL, &dataset_config).await?;
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        // A previous demo's dataset is replaced; any other non-empty directory is refused.
        let previous = dataset_dir.join(crate::dataset::MANIFEST_FILE).is_file();
        dataset.write_to(&dataset_dir, previous)?;

        let fine_tune = self.demo_loop(options.seed, end).await?;
        let settings = self.demo_settings(options.seed, end, fine_tune.simulated);
        write_settings(&settings_file, &settings)?;

        if !options.show_pii {
            let redactor = Redactor::new(&self.config().dataset.redaction)?;
            redact_texts(&redactor, &mut problematic, &mut patterns);
        }
        Ok(DemoReport {
            seed: options.seed,
            weeks: options.weeks,
            since,
            until: end,
            database: self.database().to_string(),
            persistent: store.backend() != "memory",
            dir,
            settings_file,
            redacted: !options.show_pii,
            import,
            metrics,
            weekly,
            problematic,
            patterns,
            trends: analysis.trends,
            suggestions: analysis.suggestions,
            planted: world.planted,
            dataset: DemoDataset {
                dir: dataset_dir,
                manifest: dataset.manifest().clone(),
            },
            fine_tune,
        })
    }

    /// Writes the world in one transaction, so a failed demo leaves nothing half-written.
    async fn write_world(&self, world: &DemoWorld) -> Result<WriteSummary> {
        let mut tx = self.store().begin_write().await?;
        let batches = world
            .batch
            .responses
            .chunks(CHUNK)
            .map(|r| RecordBatch {
                responses: r.to_vec(),
                feedback: vec![],
            })
            .chain(world.batch.feedback.chunks(CHUNK).map(|f| RecordBatch {
                responses: vec![],
                feedback: f.to_vec(),
            }));
        for batch in batches {
            let outcome = tx.write(&batch).await?;
            if let Some(err) = outcome.first_rejection(&batch) {
                tx.rollback().await?;
                return Err(match err {
                    Error::Conflict { kind, id, reason } => Error::Conflict {
                        kind,
                        id,
                        reason: format!(
                            "{reason}; this database holds a demo generated with another seed \
                             or number of weeks: use another database"
                        ),
                    },
                    other => other,
                });
            }
        }
        tx.commit().await
    }

    /// Decision → job → succeeded → credits charged, on the configured provider or an
    /// in-process simulated one, deciding as of `end` (the history's).
    async fn demo_loop(&self, seed: u64, end: Timestamp) -> Result<DemoLoopReport> {
        let (provider, sim): (Arc<dyn FineTuningProvider>, Option<Arc<SimulatedProvider>>) =
            if self.has_provider() {
                (self.provider().clone(), None)
            } else {
                let sim = Arc::new(SimulatedProvider::manual());
                (sim.clone(), Some(sim))
            };
        let ledger = self.ledger()?.clone();
        let jobs = JobManager::new(
            self.store().clone(),
            ledger.clone(),
            provider.clone(),
            self.demo_prices(),
        );
        // Keyed by the seed: running the demo again grants nothing more.
        ledger
            .grant(DEMO_ACCOUNT, DEMO_GRANT, &format!("demo-grant-{seed}"))
            .await?;
        let balance_before = ledger.balance(DEMO_ACCOUNT).await?;
        let mut report = DemoLoopReport {
            provider: match (&sim, self.mcp()) {
                (Some(_), _) => "simulated".into(),
                (None, Some(mcp)) => crate::secrets::redact_url(&mcp.url),
                (None, None) => provider.name().to_string(),
            },
            simulated: sim.is_some(),
            model_id: DEMO_MODEL.into(),
            base_model: DEMO_BASE_MODEL.into(),
            account: DEMO_ACCOUNT.into(),
            decision: None,
            job: None,
            statuses: Vec::new(),
            earlier_job: false,
            balance_before: balance_before.clone(),
            balance_after: balance_before,
        };
        let earlier = jobs
            .list(&JobFilter {
                model_id: Some(DEMO_MODEL.into()),
                limit: 1,
                ..Default::default()
            })
            .await?;
        if let Some(job) = earlier.into_iter().next() {
            report.earlier_job = true;
            report.decision = job.details.decision.clone();
            report.job = Some(job);
            return Ok(report);
        }

        let mut draft = DraftRequest::new(DEMO_MODEL, DEMO_BASE_MODEL, DEMO_ACCOUNT);
        draft.dataset = self.config().dataset.clone();
        draft.dataset.until = Some(end);
        let mut request = FineTuneRequest::new(draft);
        request.policy = self.config().policy.clone();
        // The history ends on a fixed date; decide as of then.
        request.now = Some(end);
        let outcome = jobs.fine_tune(&request).await?;
        report.decision = Some(outcome.decision.clone());
        if let Some(mut job) = outcome.job {
            report.statuses.push(job.status);
            let started = Instant::now();
            while !job.status.is_terminal() && job.status != JobStatus::Draft {
                match &sim {
                    Some(sim) => sim.advance(1),
                    None => {
                        if started.elapsed() > REAL_TIMEOUT {
                            break;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                job = jobs.sync(&job.id).await?;
                if report.statuses.last() != Some(&job.status) {
                    report.statuses.push(job.status);
                }
            }
            report.job = Some(job);
        }
        report.balance_after = ledger.balance(DEMO_ACCOUNT).await?;
        Ok(report)
    }

    /// The settings' prices, with the demo's base model priced unless they price it.
    fn demo_prices(&self) -> crate::policy::Prices {
        let mut prices = self.config().prices.clone();
        if prices.get(DEMO_BASE_MODEL).is_none() {
            prices
                .per_million
                .insert(DEMO_BASE_MODEL.to_string(), DEMO_PRICE);
        }
        prices
    }

    /// The text of the demo's settings file.
    fn demo_settings(&self, seed: u64, end: Timestamp, simulated: bool) -> String {
        let price = self
            .demo_prices()
            .get(DEMO_BASE_MODEL)
            .unwrap_or(DEMO_PRICE);
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut text = format!(
            "{SETTINGS_HEADER} (seed {seed}); it rewrites this file on every run.\n\
             # Use it with the demo database: tuneloop --config THIS_FILE --db DATABASE ...\n\
             \n\
             [fine_tune]\n\
             base_model = {base}\n\
             account = {account}\n\
             \n\
             [prices]\n\
             {base} = {price}\n\
             \n\
             [checks]\n\
             # The demo's history ends here: feedback recency is judged as of then, not today.\n\
             as_of = {as_of}\n{skip}",
            skip = if simulated {
                "# The demo's provider is simulated in-process: no MCP server to check.\n\
                 skip = [\"mcp\"]\n"
            } else {
                ""
            },
            base = q(DEMO_BASE_MODEL),
            account = q(DEMO_ACCOUNT),
            as_of = q(&format_timestamp(&end)),
        );
        // A URL with a password stays out of a file; the token never goes in one.
        if let Some(mcp) = self.mcp().filter(|_| !simulated) {
            if crate::secrets::redact_url(&mcp.url) == mcp.url {
                text.push_str(&format!(
                    "\n[mcp]\n# The token comes from TUNELOOP_MCP_TOKEN.\nurl = {}\n",
                    q(&mcp.url)
                ));
            }
        }
        text
    }
}

/// Refuses a settings file the demo did not write.
fn check_settings_file(path: &Path) -> Result<()> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.starts_with(SETTINGS_HEADER) => Err(Error::invalid(
            "dir",
            format!(
                "{} exists and was not written by the demo; choose another folder",
                path.display()
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

fn write_settings(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Replaces personal data in the texts the demo reports.
/// Hides personal data in what a report shows of responses and patterns.
pub(crate) fn redact_texts(
    redactor: &Redactor,
    problematic: &mut [ProblematicResponse],
    patterns: &mut [ErrorPattern],
) {
    let mut counts = RedactionCounts::default();
    let mut clean = |s: &mut String| {
        if let std::borrow::Cow::Owned(r) = redactor.redact(s, &mut counts) {
            *s = r;
        }
    };
    for p in problematic {
        clean(&mut p.query);
        clean(&mut p.response);
        p.comments.iter_mut().for_each(&mut clean);
    }
    for p in patterns {
        clean(&mut p.label);
        p.top_terms.iter_mut().for_each(&mut clean);
        for e in &mut p.examples {
            clean(&mut e.query);
            if let Some(c) = &mut e.comment {
                clean(c);
            }
        }
    }
}

fn weekly_model(m: &crate::model::ModelMetrics) -> WeeklyModel {
    let buckets: &[BucketMetrics] = m.buckets.as_deref().unwrap_or_default();
    let weeks = buckets
        .iter()
        .map(|b| WeekFigures {
            start: b.start,
            feedback: b.figures.feedback,
            positive: b.figures.positive,
            positive_rate: b.figures.positive_rate,
        })
        .collect();
    // Pooled over a quarter of the range at each end: single weeks are too noisy to call a
    // trend on.
    let k = (buckets.len() / 4).max(1);
    let pooled = |part: &[BucketMetrics]| {
        let (pos, n) = part.iter().fold((0u64, 0u64), |(p, n), b| {
            (p + b.figures.positive, n + b.figures.feedback)
        });
        (n > 0).then_some((pos as f64, n as f64))
    };
    let head = pooled(&buckets[..k.min(buckets.len())]);
    let tail = pooled(&buckets[buckets.len().saturating_sub(k)..]);
    let change = match (head, tail) {
        (Some((x1, n1)), Some((x2, n2))) => {
            let (a, b) = (x1 / n1, x2 / n2);
            // Two-proportion z-test: only call a change what noise is unlikely to make.
            let p = (x1 + x2) / (n1 + n2);
            let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
            let z = if se > 0.0 { (b - a) / se } else { 0.0 };
            let verdict = if z >= 1.96 {
                "improving"
            } else if z <= -1.96 {
                "getting worse"
            } else {
                "no significant change"
            };
            Some(WeeklyChange {
                weeks: k,
                first_rate: a,
                last_rate: b,
                delta_points: (b - a) * 100.0,
                verdict: verdict.into(),
            })
        }
        _ => None,
    };
    WeeklyModel {
        model_id: m.model_id.clone(),
        weeks,
        change,
    }
}
