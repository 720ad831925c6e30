//! `tuneloop`: the command line over the tuneloop library.

/// `println!` for people: lines longer than the terminal (100 columns off a terminal) are
/// wrapped at spaces, unless `--wide`; ends the process quietly when stdout is closed
/// (`tuneloop ... | head`) instead of panicking. Machine output (`--json`) goes through
/// [`emit`] unchanged.
macro_rules! outln {
    () => {
        $crate::emit("\n".to_string())
    };
    ($($t:tt)*) => {
        $crate::emit($crate::output::fit(&format!($($t)*)) + "\n")
    };
}

/// [`outln!`] without wrapping, for lines meant to be copied whole (commands to run next).
macro_rules! rawln {
    ($($t:tt)*) => {
        $crate::emit(format!($($t)*) + "\n")
    };
}

/// `print!` with the behaviour of [`outln!`].
macro_rules! out {
    ($($t:tt)*) => {
        $crate::emit($crate::output::fit(&format!($($t)*)))
    };
}

mod args;
mod commands;
mod convert;
mod output;
mod progress;
mod render;

use clap::Parser;
use std::fmt;
use std::process::ExitCode;

/// A failure and the exit code it maps to: 2 for the caller's input, 1 for the rest (3 for a
/// weekly run skipped because another instance holds its lease).
#[derive(Debug)]
pub struct CliError {
    pub exit: u8,
    /// A stable code: the library error's [`tuneloop::Error::code`], or `invalid_input` /
    /// `failed` for what the command line itself found.
    pub code: &'static str,
    /// What went wrong, with the command line's hints; never a credential.
    pub message: String,
    /// The underlying causes, outermost first.
    pub causes: Vec<String>,
}

impl CliError {
    /// The caller asked for something invalid (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: 2,
            code: "invalid_input",
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// Anything else (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            exit: 1,
            code: "failed",
            message: message.into(),
            causes: Vec::new(),
        }
    }

    /// The same error under the library's code it rewords (`not_found`, ...).
    pub fn coded(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The message of an error kept by reference (with its cause chain), without any
    /// credential it quotes (a URL's password, a token).
    pub fn from_ref(e: &tuneloop::Error) -> String {
        tuneloop::secrets::scrub(&e.with_causes()).into_owned()
    }

    /// The message and its causes on one line, for people.
    pub fn full_message(&self) -> String {
        let mut out = self.message.clone();
        for c in &self.causes {
            if !out.contains(c.as_str()) {
                out.push_str(": ");
                out.push_str(c);
            }
        }
        out
    }

    /// `{"error":{"code","message","causes":[...]}}`, what `--json` prints on stderr.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "causes": self.causes,
            }
        })
        .to_string()
    }
}

impl From<tuneloop::Error> for CliError {
    fn from(e: tuneloop::Error) -> Self {
        // Keep the cause chain: "storage error: ..." alone rarely says what to fix.
        let scrub = |s: String| tuneloop::secrets::scrub(&s).into_owned();
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&e);
        while let Some(c) = source {
            causes.push(scrub(c.to_string()));
            source = c.source();
        }
        let mut message = scrub(e.to_string());
        // The library says what to do; the command line says which command does it.
        if message.contains("migrate the database") {
            message.push_str("\nhint: run `tuneloop migrate`");
        }
        CliError {
            exit: if e.is_invalid_input() { 2 } else { 1 },
            code: e.code(),
            message,
            causes,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_message())
    }
}

/// Writes to stdout. A closed pipe means the reader has what it wanted: exit 0.
pub fn emit(text: String) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot write to standard output: {e}"
        );
        std::process::exit(1);
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

fn main() -> ExitCode {
    use std::io::Write;
    // clap prints help/version (exit 0) or a usage error (exit 2) itself.
    let cli = args::Cli::parse();
    output::set_wide(cli.wide);
    // rustls needs a process-wide crypto provider before any HTTP client is built.
    tuneloop::service::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(1);
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Last line of defence: no credential quoted by a library error reaches the
            // terminal.
            let text = if json {
                e.to_json()
            } else {
                format!("error: {}", e.full_message())
            };
            let _ = writeln!(std::io::stderr(), "{}", tuneloop::secrets::scrub(&text));
            ExitCode::from(e.exit)
        }
    }
}
