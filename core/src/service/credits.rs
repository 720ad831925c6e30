//! Credits: granting them to an account, reading its balance.

use super::Tuneloop;
use crate::credits::Balance;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What [`Tuneloop::grant`] adds, to which account, under which idempotency key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrantOptions {
    /// The account (created by its first grant).
    pub account: String,
    /// Credits to add: a whole number, at least 1. Signed so that a negative amount reaches
    /// the check (and its message) rather than failing to parse.
    pub amount: i64,
    /// The grant's idempotency key; `None`: a fresh one is made (and returned), so the
    /// grant can still be repeated safely with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl GrantOptions {
    /// `amount` credits for `account`, under a fresh idempotency key.
    pub fn new(account: impl Into<String>, amount: i64) -> Self {
        GrantOptions {
            account: account.into(),
            amount,
            key: None,
        }
    }
}

/// What a grant did. Serialises flat: `{"key","account","granted","pending","posted",
/// "available","applied"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantResult {
    /// The idempotency key used (the caller's, or the one made up).
    pub key: String,
    /// The account's balance after the call.
    #[serde(flatten)]
    pub balance: Balance,
    /// `false`: a grant with this key had been applied before, and this call changed
    /// nothing (a no-op).
    pub applied: bool,
}

impl Tuneloop {
    /// Adds credits to an account, creating it. Repeating a grant with its key is a no-op
    /// that says so (`applied: false`); the same key with another amount is
    /// [`Error::Conflict`]. An amount below 1 is [`Error::InvalidInput`] on `amount`.
    pub async fn grant(&self, options: &GrantOptions) -> Result<GrantResult> {
        let amount = u64::try_from(options.amount)
            .ok()
            .filter(|a| *a > 0)
            .ok_or_else(|| {
                Error::invalid(
                    "amount",
                    format!(
                        "{} is not a positive number of credits; a grant adds at least 1",
                        options.amount
                    ),
                )
            })?;
        let key = options.key.clone().unwrap_or_else(fresh_grant_key);
        let (balance, applied) = self
            .ledger()?
            .grant_applied(&options.account, amount, &key)
            .await?;
        Ok(GrantResult {
            key,
            balance,
            applied,
        })
    }

    /// An account's granted, pending, posted and available credits; [`Error::NotFound`] for
    /// an account that was never granted anything.
    pub async fn balance(&self, account: &str) -> Result<Balance> {
        self.ledger()?.balance(account).await
    }
}

/// A key no other grant used: the time in microseconds and 64 random bits (std's hasher
/// keys come from the operating system's randomness), so processes on different hosts
/// sharing a ledger do not collide either.
fn fresh_grant_key() -> String {
    use std::hash::BuildHasher;
    let micros = chrono::Utc::now().timestamp_micros();
    let random = std::collections::hash_map::RandomState::new().hash_one(micros);
    format!("grant-{micros}-{random:016x}")
}
