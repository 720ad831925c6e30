//! A fault-injection test double for [`CreditLedger`]: wraps a real ledger and fails a chosen
//! operation, either before it reaches the ledger or after the ledger applied it (the caller
//! sees an error although the credits moved, as after a crash or a lost connection).

use crate::credits::{Balance, CreditLedger, Hold};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};

/// The operation a fault is armed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOp {
    /// [`CreditLedger::grant`].
    Grant,
    /// [`CreditLedger::reserve`].
    Reserve,
    /// [`CreditLedger::commit`].
    Commit,
    /// [`CreditLedger::release`].
    Release,
}

/// When an armed fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The call fails without reaching the wrapped ledger (nothing applied).
    Before,
    /// The wrapped ledger applies the call, then the caller gets an error.
    After,
}

/// Test double: a [`CreditLedger`] that forwards to a real one and fails armed calls with
/// [`Error::Transport`] (retryable, message starting `injected fault`).
#[derive(Debug)]
pub struct FaultyLedger {
    inner: Arc<dyn CreditLedger>,
    armed: Mutex<Vec<(LedgerOp, FaultPoint)>>,
    injected: Mutex<usize>,
}

impl FaultyLedger {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: Arc<dyn CreditLedger>) -> Self {
        FaultyLedger {
            inner,
            armed: Mutex::new(Vec::new()),
            injected: Mutex::new(0),
        }
    }

    /// Makes the next call of `op` fail at `point` (faults are used once each, in order).
    pub fn fail_next(&self, op: LedgerOp, point: FaultPoint) {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((op, point));
    }

    /// How many faults have struck so far.
    pub fn injected(&self) -> usize {
        *self.injected.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wrapped ledger.
    pub fn inner(&self) -> &Arc<dyn CreditLedger> {
        &self.inner
    }

    fn take(&self, op: LedgerOp) -> Option<FaultPoint> {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let i = armed.iter().position(|(o, _)| *o == op)?;
        Some(armed.remove(i).1)
    }

    fn fault(&self, op: LedgerOp, point: FaultPoint) -> Error {
        *self.injected.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Error::transport(format!("injected fault {point:?} {op:?}"), None, true)
    }

    async fn run<T, F>(&self, op: LedgerOp, call: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        match self.take(op) {
            None => call.await,
            Some(FaultPoint::Before) => Err(self.fault(op, FaultPoint::Before)),
            Some(FaultPoint::After) => {
                call.await?;
                Err(self.fault(op, FaultPoint::After))
            }
        }
    }
}

#[async_trait]
impl CreditLedger for FaultyLedger {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn grant(&self, account: &str, amount: u64, key: &str) -> Result<Balance> {
        self.run(LedgerOp::Grant, self.inner.grant(account, amount, key))
            .await
    }

    async fn reserve(&self, account: &str, amount: u64, key: &str) -> Result<Hold> {
        self.run(LedgerOp::Reserve, self.inner.reserve(account, amount, key))
            .await
    }

    async fn commit(&self, hold_id: &str, actual: u64, key: &str) -> Result<Hold> {
        self.run(LedgerOp::Commit, self.inner.commit(hold_id, actual, key))
            .await
    }

    async fn release(&self, hold_id: &str, key: &str) -> Result<Hold> {
        self.run(LedgerOp::Release, self.inner.release(hold_id, key))
            .await
    }

    async fn balance(&self, account: &str) -> Result<Balance> {
        self.inner.balance(account).await
    }

    async fn get_hold(&self, hold_id: &str) -> Result<Option<Hold>> {
        self.inner.get_hold(hold_id).await
    }

    async fn find_hold_by_key(&self, account: &str, reserve_key: &str) -> Result<Option<Hold>> {
        self.inner.find_hold_by_key(account, reserve_key).await
    }
}
