//! Each ledger operation written once, over a backend's transaction ([`LedgerTx`]).
//!
//! A backend supplies the transaction (its isolation: a mutex, `BEGIN IMMEDIATE`, or a row
//! lock on the account) and plain row access; the order of checks and the arithmetic live
//! here and in [`super::rules`]. Every operation reads everything first and writes last, so a
//! failed check has written nothing.

use super::rules::{self, Entry, Figures, Op};
use super::{Balance, CreditLedger, Hold, HoldStatus};
use crate::error::{Error, Result};
use crate::model::Timestamp;
use async_trait::async_trait;
use chrono::SubsecRound;

/// A transaction on a backend's ledger tables. Dropping it without [`LedgerTx::commit`]
/// discards its writes.
#[async_trait]
pub(crate) trait LedgerTx: Send {
    /// The account's figures, locking the account until the transaction ends (where the
    /// backend locks per account).
    async fn lock_account(&mut self, account: &str) -> Result<Option<Figures>>;
    /// Creates an empty account unless it exists.
    async fn ensure_account(&mut self, account: &str, now: Timestamp) -> Result<()>;
    /// The journal entry of `key` on `account`.
    async fn entry(&mut self, account: &str, key: &str) -> Result<Option<Entry>>;
    /// A hold by id.
    async fn hold(&mut self, id: &str) -> Result<Option<Hold>>;
    /// Stores the account's new figures.
    async fn put_figures(&mut self, account: &str, figures: Figures, now: Timestamp) -> Result<()>;
    /// Inserts a new hold or updates the status, posted amount and resolution time of one.
    async fn put_hold(&mut self, hold: &Hold, new: bool) -> Result<()>;
    /// Appends a journal entry.
    async fn append(&mut self, entry: &Entry, now: Timestamp) -> Result<()>;
    /// Makes the writes durable and visible.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// A backend able to open [`LedgerTx`]s; [`Ledger`] turns it into a [`CreditLedger`].
#[async_trait]
pub(crate) trait TxSource: Send + Sync + std::fmt::Debug {
    /// The backend's name.
    fn name(&self) -> &'static str;
    /// Opens a transaction; `write` says whether it will write (backends may take their
    /// write lock up front only then).
    async fn begin(&self, write: bool) -> Result<Box<dyn LedgerTx + '_>>;
}

/// The time stamped on holds: microseconds, the precision every store keeps.
pub(crate) fn now() -> Timestamp {
    chrono::Utc::now().trunc_subsecs(6)
}

fn no_account(account: &str) -> Error {
    Error::NotFound {
        kind: "credit account",
        id: account.to_string(),
    }
}

fn no_hold(id: &str) -> Error {
    Error::NotFound {
        kind: "hold",
        id: id.to_string(),
    }
}

/// A storage error for rows that break the ledger's own invariants (edited by hand).
fn inconsistent(what: String) -> Error {
    Error::Storage {
        message: what,
        retryable: false,
        source: None,
    }
}

/// The balance after the grant, and whether this call applied it (`false`: a repeat of `key`).
async fn grant(
    tx: &mut dyn LedgerTx,
    account: &str,
    amount: u64,
    key: &str,
) -> Result<(Balance, bool)> {
    let now = now();
    tx.ensure_account(account, now).await?;
    let figures = tx
        .lock_account(account)
        .await?
        .ok_or_else(|| no_account(account))?;
    if let Some(recorded) = tx.entry(account, key).await? {
        rules::judge_repeat(&recorded, Op::Grant, None, Some(amount))?;
        return Ok((figures.balance(account), false));
    }
    let after = rules::grant(figures, amount)?;
    tx.put_figures(account, after, now).await?;
    tx.append(
        &Entry {
            account: account.into(),
            key: key.into(),
            op: Op::Grant,
            hold_id: None,
            amount,
        },
        now,
    )
    .await?;
    Ok((after.balance(account), true))
}

async fn reserve(tx: &mut dyn LedgerTx, account: &str, amount: u64, key: &str) -> Result<Hold> {
    let now = now();
    let figures = tx
        .lock_account(account)
        .await?
        .ok_or_else(|| no_account(account))?;
    let id = rules::hold_id(account, key);
    if let Some(recorded) = tx.entry(account, key).await? {
        rules::judge_repeat(&recorded, Op::Reserve, Some(&id), Some(amount))?;
        return tx
            .hold(&id)
            .await?
            .ok_or_else(|| inconsistent(format!("hold {id} of key {key} is missing")));
    }
    let after = rules::reserve(account, figures, amount)?;
    let hold = Hold {
        id: id.clone(),
        account: account.into(),
        amount,
        posted: None,
        status: HoldStatus::Pending,
        reserve_key: key.into(),
        created_at: now,
        resolved_at: None,
    };
    tx.put_figures(account, after, now).await?;
    tx.put_hold(&hold, true).await?;
    tx.append(
        &Entry {
            account: account.into(),
            key: key.into(),
            op: Op::Reserve,
            hold_id: Some(id),
            amount,
        },
        now,
    )
    .await?;
    Ok(hold)
}

/// Commits (`actual` = `Some`) or releases (`None`) a hold.
async fn resolve(
    tx: &mut dyn LedgerTx,
    hold_id: &str,
    actual: Option<u64>,
    key: &str,
) -> Result<Hold> {
    let op = if actual.is_some() {
        Op::Commit
    } else {
        Op::Release
    };
    let now = now();
    // The hold's account is known only after reading the hold; it is read again under the
    // account's lock, since a concurrent resolution may have changed it meanwhile.
    let account = tx
        .hold(hold_id)
        .await?
        .ok_or_else(|| no_hold(hold_id))?
        .account;
    let figures = tx
        .lock_account(&account)
        .await?
        .ok_or_else(|| inconsistent(format!("hold {hold_id} names a missing account")))?;
    let mut hold = tx.hold(hold_id).await?.ok_or_else(|| no_hold(hold_id))?;
    if let Some(recorded) = tx.entry(&account, key).await? {
        rules::judge_repeat(&recorded, op, Some(hold_id), actual)?;
        return Ok(hold);
    }
    rules::check_pending(&hold, op)?;
    let after = match actual {
        Some(actual) => rules::commit(&account, figures, hold.amount, actual)?,
        None => rules::release(figures, hold.amount),
    };
    hold.status = match actual {
        Some(_) => HoldStatus::Committed,
        None => HoldStatus::Released,
    };
    hold.posted = actual;
    hold.resolved_at = Some(now);
    tx.put_figures(&account, after, now).await?;
    tx.put_hold(&hold, false).await?;
    tx.append(
        &Entry {
            account: account.clone(),
            key: key.into(),
            op,
            hold_id: Some(hold_id.into()),
            amount: actual.unwrap_or(hold.amount),
        },
        now,
    )
    .await?;
    Ok(hold)
}

/// Runs `f` in a write transaction, committing only when it succeeds.
macro_rules! in_tx {
    ($source:expr, $write:expr, |$tx:ident| $body:expr) => {{
        let mut guard = $source.begin($write).await?;
        let $tx: &mut dyn LedgerTx = guard.as_mut();
        let out = $body.await;
        match out {
            Ok(v) => {
                guard.commit().await?;
                Ok(v)
            }
            // Dropping the transaction discards it.
            Err(e) => Err(e),
        }
    }};
}

/// Implements [`CreditLedger`] for a public ledger type by forwarding every call to its
/// `inner: Ledger<_>`, naming the backend `$backend`.
macro_rules! forward_ledger {
    ($ty:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::credits::CreditLedger for $ty {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn grant(
                &self,
                account: &str,
                amount: u64,
                key: &str,
            ) -> $crate::Result<$crate::credits::Balance> {
                self.inner.grant(account, amount, key).await
            }

            async fn grant_applied(
                &self,
                account: &str,
                amount: u64,
                key: &str,
            ) -> $crate::Result<($crate::credits::Balance, bool)> {
                self.inner.grant_applied(account, amount, key).await
            }

            async fn reserve(
                &self,
                account: &str,
                amount: u64,
                key: &str,
            ) -> $crate::Result<$crate::credits::Hold> {
                self.inner.reserve(account, amount, key).await
            }

            async fn commit(
                &self,
                hold_id: &str,
                actual: u64,
                key: &str,
            ) -> $crate::Result<$crate::credits::Hold> {
                self.inner.commit(hold_id, actual, key).await
            }

            async fn release(
                &self,
                hold_id: &str,
                key: &str,
            ) -> $crate::Result<$crate::credits::Hold> {
                self.inner.release(hold_id, key).await
            }

            async fn balance(&self, account: &str) -> $crate::Result<$crate::credits::Balance> {
                self.inner.balance(account).await
            }

            async fn get_hold(
                &self,
                hold_id: &str,
            ) -> $crate::Result<Option<$crate::credits::Hold>> {
                self.inner.get_hold(hold_id).await
            }

            async fn find_hold_by_key(
                &self,
                account: &str,
                reserve_key: &str,
            ) -> $crate::Result<Option<$crate::credits::Hold>> {
                self.inner.find_hold_by_key(account, reserve_key).await
            }
        }
    };
}
pub(super) use forward_ledger;

/// A [`CreditLedger`] over any [`TxSource`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger<S> {
    pub source: S,
}

#[async_trait]
impl<S: TxSource> CreditLedger for Ledger<S> {
    fn backend(&self) -> &'static str {
        self.source.name()
    }

    async fn grant(&self, account: &str, amount: u64, key: &str) -> Result<Balance> {
        Ok(self.grant_applied(account, amount, key).await?.0)
    }

    async fn grant_applied(
        &self,
        account: &str,
        amount: u64,
        key: &str,
    ) -> Result<(Balance, bool)> {
        rules::check_name("account", account)?;
        rules::check_name("key", key)?;
        rules::check_amount("amount", amount)?;
        in_tx!(self.source, true, |tx| grant(tx, account, amount, key))
    }

    async fn reserve(&self, account: &str, amount: u64, key: &str) -> Result<Hold> {
        rules::check_name("account", account)?;
        rules::check_name("key", key)?;
        rules::check_amount("amount", amount)?;
        in_tx!(self.source, true, |tx| reserve(tx, account, amount, key))
    }

    async fn commit(&self, hold_id: &str, actual: u64, key: &str) -> Result<Hold> {
        rules::check_name("hold_id", hold_id)?;
        rules::check_name("key", key)?;
        rules::check_amount("actual", actual)?;
        in_tx!(self.source, true, |tx| resolve(
            tx,
            hold_id,
            Some(actual),
            key
        ))
    }

    async fn release(&self, hold_id: &str, key: &str) -> Result<Hold> {
        rules::check_name("hold_id", hold_id)?;
        rules::check_name("key", key)?;
        in_tx!(self.source, true, |tx| resolve(tx, hold_id, None, key))
    }

    async fn balance(&self, account: &str) -> Result<Balance> {
        rules::check_name("account", account)?;
        in_tx!(self.source, false, |tx| async {
            let f = tx
                .lock_account(account)
                .await?
                .ok_or_else(|| no_account(account))?;
            Ok(f.balance(account))
        })
    }

    async fn get_hold(&self, hold_id: &str) -> Result<Option<Hold>> {
        rules::check_name("hold_id", hold_id)?;
        in_tx!(self.source, false, |tx| tx.hold(hold_id))
    }

    async fn find_hold_by_key(&self, account: &str, reserve_key: &str) -> Result<Option<Hold>> {
        rules::check_name("account", account)?;
        rules::check_name("key", reserve_key)?;
        let id = rules::hold_id(account, reserve_key);
        let hold = self.get_hold(&id).await?;
        Ok(hold.filter(|h| h.account == account && h.reserve_key == reserve_key))
    }
}
