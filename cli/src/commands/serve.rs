//! `tuneloop serve`: settings → the core's server. Request logs go to standard error
//! (`TUNELOOP_LOG` filters them, default `info`).

use super::Ctx;
use crate::args::ServeArgs;
use crate::CliResult;
use tuneloop::http::{bind, shutdown_signal, HttpSettings, ServeOptions};
use tuneloop::service::ScheduleOptions;

pub async fn run(ctx: &Ctx, a: ServeArgs) -> CliResult {
    init_logs();
    let mut settings = HttpSettings {
        cors_origins: a.cors_origins,
        ..Default::default()
    }
    .with_process_env();
    if let Some(limit) = a.body_limit {
        settings.body_limit = limit;
    }
    let options = ServeOptions {
        listen: a.listen,
        schedule: a.schedule.then(ScheduleOptions::default),
    };
    let tl = ctx.open().await?.clone();
    let server = bind(tl, settings, options).await?;
    let addr = server.local_addr()?;
    // One line a script or a test can wait for; the port matters with --listen ...:0.
    outln!("listening on http://{addr}");
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// Logs to standard error; `TUNELOOP_LOG` (an env-filter such as `warn` or
/// `tuneloop::http=debug`) chooses what, default `info`.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TUNELOOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or a service manager gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
