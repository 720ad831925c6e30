//! `tuneloop`: the command line over the tuneloop library.

mod args;
mod commands;
mod output;
mod progress;

use clap::Parser;
use std::fmt;
use std::process::ExitCode;

/// A failure and the exit code it maps to: 2 for the caller's input, 1 for the rest.
#[derive(Debug)]
pub struct CliError {
    pub exit: u8,
    pub message: String,
}

impl CliError {
    /// The caller asked for something invalid (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: 2,
            message: message.into(),
        }
    }

    /// Anything else (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            exit: 1,
            message: message.into(),
        }
    }
}

impl From<tuneloop::Error> for CliError {
    fn from(e: tuneloop::Error) -> Self {
        let mut message = e.to_string();
        // Keep the cause chain: "storage error: ..." alone rarely says what to fix.
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        CliError {
            exit: if e.is_invalid_input() { 2 } else { 1 },
            message,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

fn main() -> ExitCode {
    // clap prints help/version (exit 0) or a usage error (exit 2) itself.
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.exit)
        }
    }
}
