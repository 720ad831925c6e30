//! `tuneloop credits grant|balance` and `tuneloop check credits`.

use super::{open_with, print_json, Ctx};
use crate::output::{balance_table, thousands};
use crate::{CliError, CliResult};
use serde::Serialize;
use tuneloop::credits::HoldStatus;
use tuneloop::service::GrantOptions;
use tuneloop::store::{FeedbackStore, OpenOptions};

/// A credits error in the command line's words: the flag that sets the field.
fn hint(e: tuneloop::Error) -> CliError {
    match e {
        tuneloop::Error::InvalidInput { field, reason }
            if matches!(field.as_str(), "account" | "amount" | "key") =>
        {
            CliError::usage(format!("--{field}: {reason}"))
        }
        other => other.into(),
    }
}

pub async fn grant(ctx: &Ctx, account: String, amount: i64, key: Option<String>) -> CliResult {
    let made_up = key.is_none();
    let options = GrantOptions {
        account,
        amount,
        key,
    };
    let granted = ctx.open().await?.grant(&options).await.map_err(hint)?;
    if ctx.json {
        return print_json(&granted);
    }
    let (key, b) = (&granted.key, &granted.balance);
    if !granted.applied {
        outln!(
            "no-op: a grant with key {key} was already applied; {} available on {}",
            thousands(b.available),
            b.account
        );
        return Ok(());
    }
    outln!(
        "granted {} credits to {}; available now {}",
        thousands(amount.unsigned_abs()),
        b.account,
        thousands(b.available)
    );
    if made_up {
        outln!("key: {key} (repeating the grant with --key {key} is a no-op)");
    }
    Ok(())
}

pub async fn balance(ctx: &Ctx, account: &str) -> CliResult {
    let balance = ctx.open().await?.balance(account).await.map_err(hint)?;
    if ctx.json {
        print_json(&balance)
    } else {
        outln!("{}", balance_table(&balance));
        Ok(())
    }
}

/// A key no other run of this command used: the time in microseconds and the process id.
fn fresh_key(prefix: &str) -> String {
    let micros = chrono::Utc::now().timestamp_micros();
    format!("{prefix}-{micros}-{}", std::process::id())
}

/// One line of a `check` command.
#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

impl CheckLine {
    pub(crate) fn new(name: &'static str, passed: bool, detail: impl Into<String>) -> Self {
        CheckLine {
            name,
            passed,
            detail: detail.into(),
        }
    }
}

/// The credit checks on an open store: ledger reachable, account exists, a 0-credit
/// reserve/release round trip. Stops at the first failure (later checks need the earlier
/// ones). For `check credits` and a later `check all`.
pub async fn credit_checks(store: &dyn FeedbackStore, account: &str) -> Vec<CheckLine> {
    let mut out = Vec::new();
    let Some(ledger) = store.ledger() else {
        out.push(CheckLine::new(
            "ledger",
            false,
            format!("the {} backend has no credit ledger", store.backend()),
        ));
        return out;
    };
    let balance = ledger.balance(account).await;
    match &balance {
        Ok(_) | Err(tuneloop::Error::NotFound { .. }) => {
            out.push(CheckLine::new("ledger", true, ledger.backend()))
        }
        Err(e) => {
            out.push(CheckLine::new("ledger", false, CliError::from_ref(e)));
            return out;
        }
    }
    match balance {
        Ok(b) => out.push(CheckLine::new(
            "account",
            true,
            format!(
                "{account}: {} available of {} granted",
                thousands(b.available),
                thousands(b.granted)
            ),
        )),
        Err(_) => {
            out.push(CheckLine::new(
                "account",
                false,
                format!("{account} does not exist; create it with `tuneloop credits grant`"),
            ));
            return out;
        }
    }
    let reserve_key = fresh_key("check-reserve");
    let round_trip = async {
        let hold = ledger.reserve(account, 0, &reserve_key).await?;
        let done = ledger
            .release(&hold.id, &fresh_key("check-release"))
            .await?;
        Ok::<_, tuneloop::Error>(done)
    }
    .await;
    out.push(match round_trip {
        Ok(h) if h.status == HoldStatus::Released => CheckLine::new(
            "round trip",
            true,
            format!("reserved and released 0 credits (hold {})", h.id),
        ),
        Ok(h) => CheckLine::new(
            "round trip",
            false,
            format!("hold {} ended {}", h.id, h.status.as_str()),
        ),
        Err(e) => CheckLine::new("round trip", false, CliError::from_ref(&e)),
    });
    out
}

#[derive(Serialize)]
struct Checks<'a> {
    ok: bool,
    checks: &'a [CheckLine],
}

/// Prints check lines (text or JSON) and fails when one failed.
pub fn report_checks(what: &str, lines: &[CheckLine], json: bool) -> CliResult {
    let ok = lines.iter().all(|l| l.passed);
    if json {
        print_json(&Checks { ok, checks: lines })?;
    } else {
        for l in lines {
            outln!(
                "{} {:<15} {}",
                if l.passed { "✓" } else { "✗" },
                l.name,
                l.detail
            );
        }
    }
    if ok {
        return Ok(());
    }
    let failed: Vec<String> = lines
        .iter()
        .filter(|l| !l.passed)
        .map(|l| format!("{}: {}", l.name, l.detail))
        .collect();
    Err(CliError::failure(format!(
        "{what} check failed: {}",
        failed.join("; ")
    )))
}

pub async fn check(db: &str, json: bool, account: &str) -> CliResult {
    // Like `check db`: never create or migrate the database.
    let options = OpenOptions {
        create_if_missing: false,
        migrate: false,
        ..Default::default()
    };
    let lines = match open_with(db, &options).await {
        Ok(store) => credit_checks(store.as_ref(), account).await,
        Err(e) => vec![CheckLine::new("ledger", false, e.full_message())],
    };
    report_checks("credits", &lines, json)
}
