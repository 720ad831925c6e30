//! `tuneloop credits grant|balance` (`check credits` is in `check.rs`).

use super::{print_json, Ctx};
use crate::output::{balance_table, thousands};
use crate::{CliError, CliResult};
use tuneloop::service::GrantOptions;

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
