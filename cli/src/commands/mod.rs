//! One module per subcommand.

mod analyze;
mod check;
mod credits;
mod dataset;
mod demo;
mod export;
mod fine_tune;
mod import;
mod jobs;
mod metrics;
mod problematic;
mod rank;
mod repair;
mod runs;
mod schedule;
mod serve;
mod suggest;
mod trends;
mod validate;

use crate::args::{CheckWhat, Cli, Command, CreditsCommand, JobsCommand, RepairWhat, RunsCommand};
use crate::{CliError, CliResult};
use serde::Serialize;
use tuneloop::model::Timestamp;
use tuneloop::Tuneloop;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> CliResult {
    let ctx = Ctx::new(&cli)?;
    let result = dispatch(&ctx, cli).await;
    // Close what the command opened, so an embedded database is checkpointed and left as
    // one tidy file.
    let closed = ctx.close().await;
    result.and(closed)
}

/// What every command may need: the facade's options (flags, then the environment, then
/// `tuneloop.toml`), `--json`, and the handle once a command opens it.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// What [`Ctx::open`] opens.
    pub options: tuneloop::Options,
    pub json: bool,
    handle: tokio::sync::OnceCell<Tuneloop>,
}

impl Ctx {
    fn new(cli: &Cli) -> CliResult<Self> {
        let config =
            tuneloop::config::Config::load(cli.config.as_deref()).map_err(|e| match e {
                tuneloop::Error::InvalidInput { field, reason } => {
                    CliError::usage(format!("{field}: {reason}"))
                }
                other => CliError::usage(format!("cannot read the settings file: {other}")),
            })?;
        let options = tuneloop::Options {
            database_url: cli.db.clone(),
            mcp: cli
                .mcp_url
                .as_ref()
                .map(|url| tuneloop::McpSettings::from_section(url, &config.mcp)),
            config,
            ..Default::default()
        }
        // flag > environment > file > default: the core's one rule.
        .with_process_env();
        Ok(Ctx {
            json: cli.json,
            options,
            handle: tokio::sync::OnceCell::new(),
        })
    }

    /// The handle over the configured database, opened (creating and migrating an
    /// embedded database) on first use.
    pub async fn open(&self) -> CliResult<&Tuneloop> {
        self.handle
            .get_or_try_init(|| async { Tuneloop::open(self.options.clone()).await })
            .await
            .map_err(CliError::from)
    }

    /// The configured database as it may be shown (password hidden).
    pub fn database_shown(&self) -> String {
        shown(&self.options.resolved_database_url())
    }

    async fn close(&self) -> CliResult {
        if let Some(handle) = self.handle.get() {
            handle.close().await?;
        }
        Ok(())
    }
}

async fn dispatch(ctx: &Ctx, cli: Cli) -> CliResult {
    match cli.command {
        Command::Import(a) => import::run(ctx, a).await,
        Command::Export(a) => export::run(ctx, a).await,
        Command::Metrics(a) => metrics::run(ctx, a).await,
        Command::Problematic(a) => problematic::run(ctx, a).await,
        Command::Trends(a) => trends::run(ctx, a).await,
        Command::Analyze(a) => analyze::run(ctx, a).await,
        Command::Suggest(a) => suggest::run(ctx, a).await,
        Command::Rank(a) => rank::run(ctx, a).await,
        Command::Runs { what } => match what {
            RunsCommand::List { kind, limit } => runs::list(ctx, kind, limit).await,
            RunsCommand::Show { id } => runs::show(ctx, &id).await,
            RunsCommand::Diff { a, b } => runs::diff(ctx, &a, &b).await,
        },
        Command::Credits { what } => match what {
            CreditsCommand::Grant {
                account,
                amount,
                key,
            } => credits::grant(ctx, account, amount, key).await,
            CreditsCommand::Balance { account } => credits::balance(ctx, &account).await,
        },
        Command::Migrate => check::migrate(ctx).await,
        Command::Check { what } => check::run(ctx, check_options(what)).await,
        Command::Repair { what } => match what {
            RepairWhat::Aggregates => repair::aggregates(ctx).await,
        },
        Command::Demo(a) => demo::run(ctx, a).await,
        Command::Dataset(a) => dataset::run(ctx, a).await,
        Command::Validate(a) => validate::run(ctx.json, a).await,
        Command::FineTune(a) => fine_tune::run(ctx, a).await,
        Command::Jobs { what } => match what {
            JobsCommand::List {
                model,
                status,
                limit,
            } => jobs::list(ctx, model, status, limit).await,
            JobsCommand::Show { id } => jobs::show(ctx, &id).await,
            JobsCommand::Create(t) => jobs::create(ctx, t).await,
            JobsCommand::Start { id } => jobs::start(ctx, &id).await,
            JobsCommand::Cancel { id } => jobs::cancel(ctx, &id).await,
            JobsCommand::Sync { id, wait, timeout } => jobs::sync(ctx, id, wait, timeout).await,
        },
        Command::Schedule(a) => schedule::run(ctx, a).await,
        Command::Serve(a) => serve::run(ctx, a).await,
    }
}

/// The checks `check WHAT` asks for.
fn check_options(what: CheckWhat) -> tuneloop::service::CheckOptions {
    use tuneloop::service::{CheckOptions, CheckScope};
    match what {
        CheckWhat::Db => CheckOptions::scope(CheckScope::Db),
        CheckWhat::Mcp => CheckOptions::scope(CheckScope::Mcp),
        CheckWhat::Credits { account } => CheckOptions {
            account: Some(account),
            ..CheckOptions::scope(CheckScope::Credits)
        },
        CheckWhat::Feedback { model, hours, min } => CheckOptions {
            model,
            hours,
            min,
            ..CheckOptions::scope(CheckScope::Feedback)
        },
        CheckWhat::All {
            account,
            hours,
            min,
        } => CheckOptions {
            account,
            hours,
            min,
            ..CheckOptions::scope(CheckScope::All)
        },
    }
}

/// A database or server URL as it may be shown: the password hidden.
pub fn shown(url: &str) -> String {
    tuneloop::secrets::redact_url(url)
}

/// A library error with the command line's words: a field of the options becomes the
/// flag that sets it (`reject_file` → `--reject-file`).
pub fn flag_hint(e: tuneloop::Error) -> CliError {
    let flag = |field: &str| match field {
        "since" | "until" | "out" | "reject_file" | "model" | "limit" | "bucket" | "kind" => {
            Some(format!("--{}", field.replace('_', "-")))
        }
        _ => None,
    };
    match e {
        tuneloop::Error::InvalidInput { field, reason } => match flag(&field) {
            Some(f) => CliError::usage(format!("{f}: {reason}")),
            None => tuneloop::Error::InvalidInput { field, reason }.into(),
        },
        other => other.into(),
    }
}

/// A command's error, with an unknown model said as what to do about it (exit 2).
pub fn unknown_model_hint(e: tuneloop::Error) -> CliError {
    match e {
        tuneloop::Error::NotFound { kind: "model", id } => CliError::usage(format!(
            "unknown model {id}: the database has no responses of it (see `tuneloop metrics`)"
        ))
        .coded("not_found"),
        other => other.into(),
    }
}

/// Prints `value` as JSON on stdout: exactly `serde_json::to_string` of the facade's
/// result, one line.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::failure(format!("cannot serialise the result: {e}")))?;
    crate::emit(text + "\n");
    Ok(())
}

pub fn day(t: &Timestamp) -> String {
    t.format("%Y-%m-%d").to_string()
}
