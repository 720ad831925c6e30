//! `tuneloop credits grant|balance` (`check credits` is in `check.rs`).

use super::{open_store, print_json};
use crate::output::{balance_table, thousands};
use crate::{CliError, CliResult};
use serde::Serialize;
use std::sync::Arc;
use tuneloop::credits::{Balance, CreditLedger};
use tuneloop::store::FeedbackStore;

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
