//! Command-line arguments (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tuneloop::model::{parse_timestamp, Bucket, Timestamp};

/// Turn end-user feedback on LLM responses into a better model.
#[derive(Debug, Parser)]
#[command(name = "tuneloop", version, about, max_term_width = 100)]
pub struct Cli {
    /// Database URL: sqlite://PATH, postgres://USER:PASSWORD@HOST:PORT/DB[?schema=NAME&sslmode=require]
    /// (PostgreSQL/Supabase) or memory://
    /// [default: TUNELOOP_DATABASE_URL, else `[database] url` of tuneloop.toml, else
    /// sqlite://tuneloop.db]
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,

    /// Settings file (default ./tuneloop.toml when it exists); flags and the environment win
    /// over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// MCP fine-tuning server (Streamable HTTP endpoint, e.g. http://127.0.0.1:8765/mcp;
    /// default: TUNELOOP_MCP_URL, else `[mcp] url` of tuneloop.toml). Its bearer token is read from TUNELOOP_MCP_TOKEN
    /// and never printed.
    #[arg(long, global = true, value_name = "URL")]
    pub mcp_url: Option<String>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print tables at their full width instead of fitting the terminal (100 columns when
    /// the output is not a terminal).
    #[arg(long, global = true)]
    pub wide: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import responses and feedback from a JSONL file (see docs/formats.md).
    Import(ImportArgs),
    /// Export responses and feedback as JSONL, in the import format.
    Export(ExportArgs),
    /// Quality metrics per model: feedback counts, positive rate with 95% CI, categories.
    Metrics(MetricsArgs),
    /// The responses users were most unhappy with, worst first.
    Problematic(ProblematicArgs),
    /// Weekly trends of each error category's negative rate (Mann-Kendall, Sen's slope).
    Trends(TrendsArgs),
    /// Group the negative responses into error patterns of similar failures.
    Analyze(AnalyzeArgs),
    /// Improvement suggestions from error patterns, trends and corrections, most urgent first.
    Suggest(SuggestArgs),
    /// Rank models from pairwise feedback (comparison lines): Bradley–Terry scores with 95%
    /// intervals.
    Rank(RankArgs),
    /// Saved analysis runs (`analyze --save`): list, show, diff.
    Runs {
        #[command(subcommand)]
        what: RunsCommand,
    },
    /// Credit accounts: grant credits, show a balance (see docs/credits.md).
    Credits {
        #[command(subcommand)]
        what: CreditsCommand,
    },
    /// Create the database if needed and apply pending schema migrations.
    Migrate,
    /// Check things without changing them.
    Check {
        #[command(subcommand)]
        what: CheckWhat,
    },
    /// Repair derived data from the raw rows.
    Repair {
        #[command(subcommand)]
        what: RepairWhat,
    },
    /// Generate a synthetic feedback history, import it, print a quality report, build a
    /// dataset and run the fine-tuning loop; leaves its files in one folder (--dir).
    Demo(DemoArgs),
    /// Build a fine-tuning dataset from a model's feedback: train/validation JSONL, manifest
    /// and lineage in a new directory (PII redacted, deduplicated, split without leaks).
    Dataset(DatasetArgs),
    /// Check a fine-tuning JSONL file (ours or not) with the OpenAI cookbook's checks; exits 2
    /// when it has errors.
    Validate(ValidateArgs),
    /// Decide whether a model should be fine-tuned now (the trigger policy) and, if so,
    /// build its dataset, reserve the estimated cost and start the job on the MCP server.
    FineTune(FineTuneArgs),
    /// Fine-tuning jobs: list, show, create (draft), start, cancel, sync.
    Jobs {
        #[command(subcommand)]
        what: JobsCommand,
    },
    /// Run the weekly job (analysis run, fine-tune decision per model, job sync) on its cron
    /// schedule, or now with --once. One instance at a time (a lease in the database).
    Schedule(ScheduleArgs),
    /// Serve the HTTP API (docs/http.md) until SIGTERM or Ctrl-C. Admin endpoints need
    /// TUNELOOP_ADMIN_TOKEN; without one only a loopback address is allowed (and they are
    /// open there).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Also run the weekly job on its cron schedule, in this process.
    #[arg(long)]
    pub schedule: bool,
    /// The largest request body accepted, in bytes [default: 262144].
    #[arg(long, value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// A browser origin allowed by CORS (repeatable) [default: TUNELOOP_CORS_ORIGINS].
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

/// What the new job trains on what (shared by `fine-tune` and `jobs create`).
#[derive(Debug, Args, Clone)]
pub struct JobTargetArgs {
    /// The model whose feedback makes the dataset.
    #[arg(long = "model-id", value_name = "M")]
    pub model_id: String,
    /// The provider's model to fine-tune [default: `[fine_tune] base_models / base_model`].
    #[arg(long, value_name = "B")]
    pub base_model: Option<String>,
    /// The credit account that pays [default: `[fine_tune] account`, else `default`].
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// Training method [default: `[fine_tune] method`, else supervised].
    #[arg(long, value_name = "METHOD")]
    pub method: Option<MethodArg>,
    /// Epochs to ask for (also what the cost assumes) [default: the cookbook's estimate].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub n_epochs: Option<u32>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Supervised,
    Dpo,
}

impl From<MethodArg> for tuneloop::model::FineTuneMethod {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Supervised => Self::Supervised,
            MethodArg::Dpo => Self::Dpo,
        }
    }
}

#[derive(Debug, Args)]
pub struct FineTuneArgs {
    #[command(flatten)]
    pub target: JobTargetArgs,
    /// Only print the decision; create, reserve and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Override failed quality checks (feedback, negative rate, examples, cooldown); never
    /// an active job or missing credits.
    #[arg(long)]
    pub force: bool,
    /// Decide as of this time (RFC 3339 or YYYY-MM-DD, UTC) instead of now: the policy's
    /// windows and cooldown end there.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub as_of: Option<Timestamp>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        /// Only this model.
        #[arg(long, value_name = "M")]
        model: Option<String>,
        /// Only this status (draft, starting, validating_files, queued, running, succeeded,
        /// failed, cancelled).
        #[arg(long, value_name = "S")]
        status: Option<String>,
        /// At most N jobs (0: all) [default: 50].
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// One job with its history.
    Show {
        /// Our job id (`ftj_...`).
        id: String,
    },
    /// Create a draft job: build the dataset and estimate the cost, without the policy,
    /// without reserving or sending anything.
    Create(JobTargetArgs),
    /// Start a draft (upload, reserve credits, create the remote job), or resume a start
    /// that was interrupted.
    Start {
        /// Our job id.
        id: String,
    },
    /// Cancel a job (locally, or on the provider when the remote job exists); the credit
    /// hold is released unless the job already succeeded.
    Cancel {
        /// Our job id.
        id: String,
    },
    /// Bring jobs up to date with the provider and settle finished ones' credits (all jobs
    /// in flight without an id).
    Sync {
        /// Our job id.
        id: Option<String>,
        /// Keep syncing every few seconds until the job(s) finish.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds [default: 600].
        #[arg(long, value_name = "S")]
        timeout: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Run the weekly job once, now, and exit (exit 3 when another instance holds its
    /// lease).
    #[arg(long, conflicts_with = "cron")]
    pub once: bool,
    /// Decide only: create no job (also what happens without an MCP server).
    #[arg(long)]
    pub dry_run: bool,
    /// Cron expression (UTC) [default: `[schedule] cron`, else `0 3 * * MON`].
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RepairWhat {
    /// Rebuild the daily aggregates metrics read (per model and day) from the responses and
    /// feedback, in one transaction; `check db` reports when they disagree with the rows.
    Aggregates,
}

#[derive(Debug, Subcommand)]
pub enum CheckWhat {
    /// Check that the database exists and its schema is complete and current (never creates
    /// or migrates it).
    Db,
    /// Connect to the MCP server of --mcp-url and report each fine-tuning tool the contract
    /// needs as present or missing, with its arguments (exit 1 if any is missing).
    Mcp,
    /// Check the credit ledger: reachable, the account exists, and a reserve/release round
    /// trip of 0 credits works (it leaves two journal entries and a released hold).
    Credits {
        /// The account to check.
        #[arg(long, value_name = "A")]
        account: String,
    },
    /// Every check at once: database, MCP server, credits, feedback (the integration check).
    All {
        /// The account for the credits check [default: `[fine_tune] account`].
        #[arg(long, value_name = "A")]
        account: Option<String>,
        /// The feedback window, in hours back from now.
        #[arg(long, value_name = "H", default_value_t = 168,
              value_parser = clap::value_parser!(u32).range(1..=87_600))]
        hours: u32,
        /// Fewest feedback items per model that pass.
        #[arg(long, value_name = "N", default_value_t = 1)]
        min: u64,
    },
    /// Check that feedback is still arriving: one line per model with the feedback items
    /// created in the last H hours (exit 1 when a model has fewer than --min).
    Feedback {
        /// Only this model.
        #[arg(long, value_name = "M")]
        model: Option<String>,
        /// The window, in hours back from now.
        #[arg(long, value_name = "H", default_value_t = 168,
              value_parser = clap::value_parser!(u32).range(1..=87_600))]
        hours: u32,
        /// Fewest feedback items per model that pass.
        #[arg(long, value_name = "N", default_value_t = 1)]
        min: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add credits to an account, creating it. Repeating the command with the same --key is a
    /// no-op, so a grant that may have failed can be retried safely.
    Grant {
        /// The account.
        #[arg(long, value_name = "A")]
        account: String,
        /// Credits to add (whole units, at least 1).
        // Signed, so `-5` reaches the library's check and its message instead of clap's.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        amount: i64,
        /// Idempotency key; without one a unique key is made up and printed.
        #[arg(long, value_name = "K")]
        key: Option<String>,
    },
    /// An account's granted, pending, posted and available credits.
    Balance {
        /// The account.
        #[arg(long, value_name = "A")]
        account: String,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSONL file to import; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Import the valid lines and write the invalid ones to this file (JSONL with line,
    /// field, reason, byte offset and the input). Without it, any invalid line aborts the
    /// import and nothing is written.
    #[arg(long, value_name = "F")]
    pub reject_file: Option<PathBuf>,
    /// Records written per batch.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    /// With --reject-file, commit after at most N records so other writers get the
    /// database in between (an import without --reject-file is one transaction).
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub commit_every: u64,
}

/// Filters shared by export, metrics and problematic.
#[derive(Debug, Args, Clone)]
pub struct RangeArgs {
    /// Only this model.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// Responses created at or after T (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Responses created before T (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub until: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "F")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// Add a per-day or per-week series to each model.
    #[arg(long, value_name = "B")]
    pub bucket: Option<BucketArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BucketArg {
    Day,
    Week,
}

impl From<BucketArg> for Bucket {
    fn from(b: BucketArg) -> Self {
        match b {
            BucketArg::Day => Bucket::Day,
            BucketArg::Week => Bucket::Week,
        }
    }
}

#[derive(Debug, Args)]
pub struct ProblematicArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// At most N responses.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub limit: u64,
    /// Show queries, answers and comments as users wrote them (personal data such as emails,
    /// phone numbers and card numbers is hidden by default).
    #[arg(long)]
    pub show_pii: bool,
    /// Order: `rate` ranks by the lower bound of the 95 % Wilson interval of the negative
    /// share (12 of 12 negative outranks 20 of 60), `count` by the number of negatives.
    #[arg(long, value_enum, value_name = "BY", default_value_t = RankByArg::Rate)]
    pub rank_by: RankByArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RankByArg {
    Rate,
    Count,
}

impl From<RankByArg> for tuneloop::model::RankBy {
    fn from(r: RankByArg) -> Self {
        match r {
            RankByArg::Rate => tuneloop::model::RankBy::Rate,
            RankByArg::Count => tuneloop::model::RankBy::Count,
        }
    }
}

#[derive(Debug, Args)]
pub struct TrendsArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// Significance level of the trend and change-point tests.
    #[arg(long, value_name = "A", default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Weeks in the window that flags a category as emerging (negatives in the last W weeks,
    /// none in the W weeks before).
    #[arg(long, value_name = "W", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=260))]
    pub window: u32,
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!(
            "`{text}` is not a significance level between 0 and 1 (exclusive)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct RankArgs {
    /// Only comparisons between these models (repeat the flag); default: every model.
    #[arg(long = "model", value_name = "M")]
    pub models: Vec<String>,
    /// Comparisons made at or after T (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Comparisons made before T (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// L2 penalty on the log-strengths (default 0.01; 0: plain maximum likelihood).
    #[arg(long, value_name = "A")]
    pub regularization: Option<f64>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub rules: RuleFileArgs,
    /// Save the run (patterns, trends, suggestions) in the database; see `runs`.
    #[arg(long)]
    pub save: bool,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    #[command(flatten)]
    pub rules: RuleFileArgs,
}

/// User rule tables (docs/formats.md, "Custom rule tables").
#[derive(Debug, Args, Default)]
pub struct RuleFileArgs {
    /// JSON lexicon that infers categories from comments (adds to the built-in one unless the
    /// file says `"extends_default": false`).
    #[arg(long, value_name = "FILE")]
    pub lexicon: Option<PathBuf>,
    /// JSON suggestion rules (added before the built-in table unless the file says
    /// `"extends_default": false`).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Saved runs, newest first.
    List {
        /// Only runs of this kind (`analysis`, `weekly`).
        #[arg(long, value_name = "K")]
        kind: Option<String>,
        /// At most N runs (default 20; 0: all).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// One saved run as stored (JSON).
    Show {
        /// The run id.
        id: String,
    },
    /// Error patterns new, grown, shrunk and resolved from run A to run B.
    Diff {
        /// The earlier run.
        a: String,
        /// The later run.
        b: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the generator: the same seed gives the same history.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// Weeks of history, ending 2026-11-23.
    #[arg(long, value_name = "N", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
    /// The folder for the demo's dataset and settings file (tuneloop.toml) [default:
    /// ./tuneloop-demo].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Show queries, answers and comments as users wrote them (personal data is redacted
    /// by default).
    #[arg(long)]
    pub show_pii: bool,
}

#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// The model whose responses and feedback make the examples.
    #[arg(long, value_name = "M")]
    pub model: String,
    /// Output format.
    #[arg(long, value_name = "F")]
    pub format: FormatArg,
    /// Directory to create (refused when it exists and is not empty, unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the train/validation split [default: `[dataset] seed`, else 42].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Share of queries put in validation.jsonl, 0 to 0.5 [default: `[dataset]`, else 0.1].
    #[arg(long, value_name = "X")]
    pub validation_fraction: Option<f64>,
    /// Fail when fewer examples than this remain after filtering and deduplication
    /// [default: `[dataset] min_examples`, else 10].
    #[arg(long, value_name = "N")]
    pub min_examples: Option<usize>,
    /// Drop examples longer than this many tokens [default: `[dataset]`, else 16385].
    #[arg(long, value_name = "T")]
    pub max_tokens: Option<u64>,
    /// Token encoding for counts and limits [default: `[dataset] encoding`, else o200k_base].
    #[arg(long, value_name = "E")]
    pub encoding: Option<EncodingArg>,
    /// System message put first in every example [default: `[dataset] system_prompt`].
    #[arg(long, value_name = "S")]
    pub system_prompt: Option<String>,
    /// Only responses created at or after T (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub since: Option<Timestamp>,
    /// Only responses created before T.
    #[arg(long, value_name = "T", value_parser = parse_time)]
    pub until: Option<Timestamp>,
    /// Replace a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    OpenaiChat,
    OpenaiDpo,
    TrlSft,
    TrlDpo,
    TrlKto,
}

impl From<FormatArg> for tuneloop::service::DatasetFormat {
    fn from(f: FormatArg) -> Self {
        use tuneloop::service::DatasetFormat as D;
        match f {
            FormatArg::OpenaiChat => D::OpenaiChat,
            FormatArg::OpenaiDpo => D::OpenaiDpo,
            FormatArg::TrlSft => D::TrlSft,
            FormatArg::TrlDpo => D::TrlDpo,
            FormatArg::TrlKto => D::TrlKto,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    #[value(name = "o200k_base")]
    O200kBase,
    #[value(name = "cl100k_base")]
    Cl100kBase,
}

impl From<EncodingArg> for tuneloop::service::TokenEncoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::O200kBase => Self::O200kBase,
            EncodingArg::Cl100kBase => Self::Cl100kBase,
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// JSONL file to check; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Layout of the file.
    #[arg(long, value_name = "F")]
    pub format: ValidateFormatArg,
    /// Token encoding for counts [default: o200k_base].
    #[arg(long, value_name = "E")]
    pub encoding: Option<EncodingArg>,
    /// Warn about examples longer than this; billing counts at most this many per example
    /// [default: 16385].
    #[arg(long, value_name = "T")]
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ValidateFormatArg {
    OpenaiChat,
    OpenaiDpo,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text)
}
