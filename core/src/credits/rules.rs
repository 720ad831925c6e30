//! The ledger's rules as pure functions: validation, hold ids, idempotency judging and the
//! arithmetic of each operation. Every backend runs these same functions inside its own
//! transaction, so they agree by construction.

use super::{Balance, Hold, HoldStatus};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// The largest amount or total an account may hold (`i64::MAX`, so SQL `BIGINT` columns
/// hold every value).
pub const MAX_AMOUNT: u64 = i64::MAX as u64;

/// The longest account name or idempotency key, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// The id of the hold that `reserve(account, _, reserve_key)` creates: `hold_` and 32 hex
/// digits of SHA-256 over the account and the key. A caller re-running after a crash gets
/// the same id.
///
/// ```
/// let a = tuneloop::credits::hold_id("acme", "job-7/reserve");
/// assert_eq!(a, tuneloop::credits::hold_id("acme", "job-7/reserve"));
/// assert_ne!(a, tuneloop::credits::hold_id("acme", "job-8/reserve"));
/// assert!(a.starts_with("hold_") && a.len() == 37);
/// ```
pub fn hold_id(account: &str, reserve_key: &str) -> String {
    let mut h = Sha256::new();
    // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
    h.update((account.len() as u64).to_le_bytes());
    h.update(account.as_bytes());
    h.update(reserve_key.as_bytes());
    let digest = h.finalize();
    format!("hold_{}", hex::encode(&digest[..16]))
}

/// Checks an account name, idempotency key or hold id.
pub(crate) fn check_name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Checks an amount.
pub(crate) fn check_amount(field: &str, amount: u64) -> Result<()> {
    if amount > MAX_AMOUNT {
        return Err(Error::invalid(
            field,
            format!("{amount} is more than the largest amount, {MAX_AMOUNT}"),
        ));
    }
    Ok(())
}

/// An account's stored figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Figures {
    pub granted: u64,
    pub pending: u64,
    pub posted: u64,
}

impl Figures {
    pub fn available(&self) -> u64 {
        // The rules below keep posted + pending ≤ granted; saturating only guards against
        // hand-edited rows.
        self.granted
            .saturating_sub(self.posted)
            .saturating_sub(self.pending)
    }

    pub fn balance(&self, account: &str) -> Balance {
        Balance {
            account: account.to_string(),
            granted: self.granted,
            pending: self.pending,
            posted: self.posted,
            available: self.available(),
        }
    }
}

/// What an idempotency key was used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Grant,
    Reserve,
    Commit,
    Release,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Grant => "grant",
            Op::Reserve => "reserve",
            Op::Commit => "commit",
            Op::Release => "release",
        }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "grant" => Some(Op::Grant),
            "reserve" => Some(Op::Reserve),
            "commit" => Some(Op::Commit),
            "release" => Some(Op::Release),
            _ => None,
        }
    }
}

/// One journal entry: an applied operation and its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub account: String,
    pub key: String,
    pub op: Op,
    /// The hold, for reserve, commit and release.
    pub hold_id: Option<String>,
    /// Granted, held, posted or released credits.
    pub amount: u64,
}

/// Judges a key already in the journal against a new request: `Ok(())` means the request
/// repeats the recorded operation (answer without applying it again); anything else is a
/// conflict. `amount` is `None` where the request carries none (release).
pub(crate) fn judge_repeat(
    recorded: &Entry,
    op: Op,
    hold_id: Option<&str>,
    amount: Option<u64>,
) -> Result<()> {
    let same = recorded.op == op
        && recorded.hold_id.as_deref() == hold_id
        && amount.is_none_or(|a| a == recorded.amount);
    if same {
        return Ok(());
    }
    let what = match (&recorded.hold_id, recorded.op) {
        (Some(h), Op::Commit) => format!("commit of {} credits on hold {h}", recorded.amount),
        (Some(h), Op::Release) => format!("release of hold {h}"),
        (_, Op::Reserve) => format!("reserve of {} credits", recorded.amount),
        _ => format!("grant of {} credits", recorded.amount),
    };
    Err(Error::Conflict {
        kind: "idempotency key",
        id: recorded.key.clone(),
        reason: format!(
            "already used on account {} for a {what}; use a new key for a new operation",
            recorded.account
        ),
    })
}

/// The figures after granting `amount`.
pub(crate) fn grant(f: Figures, amount: u64) -> Result<Figures> {
    let granted = f
        .granted
        .checked_add(amount)
        .filter(|g| *g <= MAX_AMOUNT)
        .ok_or_else(|| {
            Error::invalid(
                "amount",
                format!(
                    "granting {amount} would take the account past the largest total, {MAX_AMOUNT}"
                ),
            )
        })?;
    Ok(Figures { granted, ..f })
}

fn insufficient(account: &str, required: u64, available: u64) -> Error {
    Error::InsufficientCredits {
        account: account.to_string(),
        required: i64::try_from(required).unwrap_or(i64::MAX),
        available: i64::try_from(available).unwrap_or(i64::MAX),
    }
}

/// The figures after holding `amount`.
pub(crate) fn reserve(account: &str, f: Figures, amount: u64) -> Result<Figures> {
    let available = f.available();
    if amount > available {
        return Err(insufficient(account, amount, available));
    }
    Ok(Figures {
        pending: f.pending + amount,
        ..f
    })
}

/// Refuses to resolve a hold that is not pending.
pub(crate) fn check_pending(hold: &Hold, op: Op) -> Result<()> {
    if hold.status == HoldStatus::Pending {
        return Ok(());
    }
    Err(Error::Conflict {
        kind: "hold",
        id: hold.id.clone(),
        reason: format!(
            "cannot {} it: it is already {}",
            op.as_str(),
            hold.status.as_str()
        ),
    })
}

/// The figures after committing `actual` on a pending hold of `held`.
pub(crate) fn commit(account: &str, f: Figures, held: u64, actual: u64) -> Result<Figures> {
    if actual > held {
        let excess = actual - held;
        let available = f.available();
        if excess > available {
            return Err(insufficient(account, excess, available));
        }
    }
    Ok(Figures {
        granted: f.granted,
        pending: f.pending.saturating_sub(held),
        posted: f.posted + actual,
    })
}

/// The figures after releasing a pending hold of `held`.
pub(crate) fn release(f: Figures, held: u64) -> Figures {
    Figures {
        pending: f.pending.saturating_sub(held),
        ..f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_amounts_are_checked() {
        assert!(check_name("account", "a").is_ok());
        let e = check_name("account", "").unwrap_err();
        assert!(e.to_string().contains("account"), "{e}");
        let long = "k".repeat(MAX_NAME_BYTES + 1);
        let e = check_name("key", &long).unwrap_err();
        assert!(
            e.to_string().contains("key") && e.to_string().contains("257"),
            "{e}"
        );
        assert!(check_name("key", &long[1..]).is_ok());
        assert!(check_amount("amount", MAX_AMOUNT).is_ok());
        assert!(check_amount("amount", MAX_AMOUNT + 1).is_err());
    }

    #[test]
    fn arithmetic_guards_overdraft_and_overflow() {
        let f = grant(Figures::default(), 100).unwrap();
        let f = reserve("a", f, 60).unwrap();
        assert_eq!(f.available(), 40);
        assert!(matches!(
            reserve("a", f, 41),
            Err(Error::InsufficientCredits {
                required: 41,
                available: 40,
                ..
            })
        ));
        // Commit above the hold takes the excess from what is available.
        assert!(commit("a", f, 60, 101).is_err());
        let c = commit("a", f, 60, 100).unwrap();
        assert_eq!((c.pending, c.posted, c.available()), (0, 100, 0));
        let r = release(f, 60);
        assert_eq!((r.pending, r.available()), (0, 100));
        assert!(grant(f, MAX_AMOUNT).is_err());
    }

    #[test]
    fn hold_ids_separate_account_and_key() {
        assert_ne!(hold_id("ab", "c"), hold_id("a", "bc"));
    }
}
