//! The credit ledger: two-phase holds on integer credit units, like a payment hold.
//!
//! `reserve` puts credits on hold (pending); a hold is then either `commit`ted (the actual
//! cost is posted and the rest released) or `release`d (voided). Every operation carries an
//! idempotency key, so a caller that crashed or timed out can repeat it safely. No account
//! ever goes below zero: `available = granted − posted − pending ≥ 0` at all times.
//!
//! [`CreditLedger`] is the trait every backend implements: [`MemoryLedger`] here,
//! `SqliteLedger` and `PgLedger` (in the same database as the store) behind the `sqlite` and
//! `postgres` features. A host with its own billing system implements the trait itself.
//!
//! ```
//! use tuneloop::credits::{CreditLedger, HoldStatus, MemoryLedger};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ledger = MemoryLedger::new();
//! ledger.grant("acme", 100, "topup-1").await.unwrap();
//! let hold = ledger.reserve("acme", 40, "job-7/reserve").await.unwrap();
//! assert_eq!(ledger.balance("acme").await.unwrap().available, 60);
//! let done = ledger.commit(&hold.id, 25, "job-7/commit").await.unwrap();
//! assert_eq!(done.status, HoldStatus::Committed);
//! let b = ledger.balance("acme").await.unwrap();
//! assert_eq!((b.granted, b.posted, b.pending, b.available), (100, 25, 0, 75));
//! # });
//! ```

mod flow;
mod memory;
mod open;
#[cfg(feature = "postgres")]
mod postgres;
mod rules;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_rows;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryLedger;
pub use open::open;
#[cfg(feature = "postgres")]
pub use postgres::PgLedger;
pub use rules::{hold_id, MAX_AMOUNT, MAX_NAME_BYTES};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLedger;

use crate::error::Result;
use crate::model::time::serde_ts;
use crate::model::Timestamp;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A ledger of credit accounts with two-phase holds.
///
/// # Behaviour every implementation keeps (checked by the conformance suite)
/// - Amounts are whole credit units, at most [`MAX_AMOUNT`]; account names and keys are
///   non-empty and at most [`MAX_NAME_BYTES`] bytes ([`crate::Error::InvalidInput`] naming
///   the field otherwise). A total that would pass [`MAX_AMOUNT`] is `InvalidInput` too.
/// - Idempotency keys are unique per account across all operations (a hold's `commit` and
///   `release` keys belong to the hold's account). Repeating an operation with its key and
///   the same arguments does nothing more and answers as the first call did (with the
///   current state); the same key with other arguments, or for another operation, is
///   [`crate::Error::Conflict`].
/// - Checks run in this order: input validation, unknown account or hold
///   ([`crate::Error::NotFound`]), idempotency (repeat or conflict), the hold's state
///   (`Conflict`), then funds ([`crate::Error::InsufficientCredits`]). A failed call changes
///   nothing and records no key, so it may be retried.
/// - `available = granted − posted − pending` never goes below zero, under any concurrency.
/// - A hold is resolved (committed or released) at most once.
/// - Every operation is atomic: its effect and its idempotency record are stored together.
#[async_trait]
pub trait CreditLedger: Send + Sync + std::fmt::Debug {
    /// The backend's name (`memory`, `sqlite`, `postgres`, or a host's own).
    fn backend(&self) -> &'static str;

    /// Adds credits to an account (creating it). Repeating `key` with the same arguments is a no-op
    /// returning the current balance; the same key with other arguments is `Error::Conflict`.
    async fn grant(&self, account: &str, amount: u64, key: &str) -> Result<Balance>;

    /// [`CreditLedger::grant`], also saying whether this call applied the grant: `false`
    /// when `key` had been applied before and this call changed nothing.
    ///
    /// The built-in ledgers answer from their journal, in the grant's own transaction. This
    /// default, for a host's ledger that cannot tell, compares the account's `granted` before
    /// and after the call: a concurrent grant on the same account can make a repeat look
    /// applied, and a grant of 0 always looks like a repeat.
    async fn grant_applied(
        &self,
        account: &str,
        amount: u64,
        key: &str,
    ) -> Result<(Balance, bool)> {
        let before = match self.balance(account).await {
            Ok(b) => Some(b.granted),
            Err(crate::Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let after = self.grant(account, amount, key).await?;
        let applied = before.is_none_or(|g| after.granted > g);
        Ok((after, applied))
    }

    /// Puts `amount` on hold. `Error::InsufficientCredits` when available < amount (nothing held);
    /// `NotFound` for an unknown account. Zero is allowed. Same key + same args → the same Hold.
    async fn reserve(&self, account: &str, amount: u64, key: &str) -> Result<Hold>;

    /// Posts `actual` from a pending hold and releases the rest. actual > held: the excess must be
    /// available, else InsufficientCredits and the hold stays pending. Committing a released hold,
    /// or committing twice with different keys/amounts → Conflict; the same key again → the same Hold.
    async fn commit(&self, hold_id: &str, actual: u64, key: &str) -> Result<Hold>;

    /// Voids a pending hold (same idempotency rules; releasing a committed hold → Conflict).
    async fn release(&self, hold_id: &str, key: &str) -> Result<Hold>;

    /// The account's balance; `NotFound` for an unknown account.
    async fn balance(&self, account: &str) -> Result<Balance>;

    /// A hold by id, `None` when there is none.
    async fn get_hold(&self, hold_id: &str) -> Result<Option<Hold>>;

    /// The hold `reserve(account, _, reserve_key)` created, `None` when there is none (a
    /// caller that crashed after reserving finds its hold this way).
    async fn find_hold_by_key(&self, account: &str, reserve_key: &str) -> Result<Option<Hold>>;
}

/// An account's figures. `available = granted − posted − pending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// The account.
    pub account: String,
    /// Everything ever granted.
    pub granted: u64,
    /// Held by pending holds.
    pub pending: u64,
    /// Spent by committed holds.
    pub posted: u64,
    /// What a new hold may take.
    pub available: u64,
}

/// Where a hold is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Reserved, not yet resolved.
    Pending,
    /// The actual amount was posted (final).
    Committed,
    /// Voided; nothing was posted (final).
    Released,
}

impl HoldStatus {
    /// `pending`, `committed` or `released`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Pending => "pending",
            HoldStatus::Committed => "committed",
            HoldStatus::Released => "released",
        }
    }

    /// The inverse of [`HoldStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(HoldStatus::Pending),
            "committed" => Some(HoldStatus::Committed),
            "released" => Some(HoldStatus::Released),
            _ => None,
        }
    }
}

/// Credits on hold for one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Derived from the account and the reserve key ([`hold_id`]).
    pub id: String,
    /// The account charged.
    pub account: String,
    /// Credits held by the reserve.
    pub amount: u64,
    /// Credits posted by the commit (`None` until committed).
    pub posted: Option<u64>,
    /// Where the hold is.
    pub status: HoldStatus,
    /// The idempotency key of the reserve that created it.
    pub reserve_key: String,
    /// When it was reserved.
    #[serde(with = "serde_ts")]
    pub created_at: Timestamp,
    /// When it was committed or released.
    #[serde(with = "serde_ts::option")]
    pub resolved_at: Option<Timestamp>,
}
