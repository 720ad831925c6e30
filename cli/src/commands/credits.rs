//! `tuneloop credits grant|balance` and `tuneloop check credits`.

use super::{open_store, open_with, print_json};
use crate::output::{balance_table, thousands};
use crate::{CliError, CliResult};
use serde::Serialize;
use std::sync::Arc;
use tuneloop::credits::{Balance, CreditLedger, HoldStatus};
use tuneloop::store::{FeedbackStore, OpenOptions};

/// The ledger of the `--db` store.
fn ledger_of(store: &dyn FeedbackStore) -> CliResult<Arc<dyn CreditLedger>> {
    store.ledger().ok_or_else(|| {
        CliError::failure(format!(
            "the {} backend has no credit ledger",
            store.backend()
        ))
    })
}

/// A key no other run of this command used: the time in microseconds and the process id.
fn fresh_key(prefix: &str) -> String {
    let micros = chrono::Utc::now().timestamp_micros();
    format!("{prefix}-{micros}-{}", std::process::id())
}

/// `credits grant --json` prints the balance with the key used.
#[derive(Serialize)]
struct Granted<'a> {
    key: &'a str,
    #[serde(flatten)]
    balance: &'a Balance,
}

pub async fn grant(
    db: &str,
    json: bool,
    account: &str,
    amount: u64,
    key: Option<String>,
) -> CliResult {
    let store = open_store(db).await?;
    let ledger = ledger_of(store.as_ref())?;
    let made_up = key.is_none();
    let key = key.unwrap_or_else(|| fresh_key("cli-grant"));
    let balance = ledger.grant(account, amount, &key).await?;
    if json {
        return print_json(&Granted {
            key: &key,
            balance: &balance,
        });
    }
    outln!(
        "granted {} credits to {account}; available now {}",
        thousands(amount),
        thousands(balance.available)
    );
    if made_up {
        outln!("key: {key} (repeating the grant with --key {key} is a no-op)");
    }
    Ok(())
}

pub async fn balance(db: &str, json: bool, account: &str) -> CliResult {
    let store = open_store(db).await?;
    let ledger = ledger_of(store.as_ref())?;
    let balance = ledger.balance(account).await?;
    if json {
        print_json(&balance)
    } else {
        outln!("{}", balance_table(&balance));
        Ok(())
    }
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
