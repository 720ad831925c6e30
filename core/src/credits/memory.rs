//! The in-memory ledger: one mutex around the whole state, so every operation is
//! serialised; an undo log rolls back an operation that fails part-way.

use super::flow::{forward_ledger, Ledger, LedgerTx, TxSource};
use super::rules::{Entry, Figures};
use super::Hold;
use crate::error::Result;
use crate::model::Timestamp;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A ledger held in memory (lost when dropped); for tests, demos and single-process hosts.
/// Clones share the same accounts.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    inner: Ledger<MemorySource>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Debug, Clone, Default)]
struct MemorySource {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<String, Figures>,
    holds: HashMap<String, Hold>,
    entries: HashMap<(String, String), Entry>,
}

enum Undo {
    Account(String, Option<Figures>),
    Hold(String, Option<Hold>),
    Entry(String, String),
}

struct MemoryTx {
    state: OwnedMutexGuard<State>,
    undo: Vec<Undo>,
}

impl Drop for MemoryTx {
    fn drop(&mut self) {
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Account(name, Some(f)) => {
                    self.state.accounts.insert(name, f);
                }
                Undo::Account(name, None) => {
                    self.state.accounts.remove(&name);
                }
                Undo::Hold(id, Some(h)) => {
                    self.state.holds.insert(id, h);
                }
                Undo::Hold(id, None) => {
                    self.state.holds.remove(&id);
                }
                Undo::Entry(account, key) => {
                    self.state.entries.remove(&(account, key));
                }
            }
        }
    }
}

#[async_trait]
impl LedgerTx for MemoryTx {
    async fn lock_account(&mut self, account: &str) -> Result<Option<Figures>> {
        Ok(self.state.accounts.get(account).copied())
    }

    async fn ensure_account(&mut self, account: &str, _now: Timestamp) -> Result<()> {
        if !self.state.accounts.contains_key(account) {
            self.undo.push(Undo::Account(account.to_string(), None));
            self.state
                .accounts
                .insert(account.to_string(), Figures::default());
        }
        Ok(())
    }

    async fn entry(&mut self, account: &str, key: &str) -> Result<Option<Entry>> {
        Ok(self
            .state
            .entries
            .get(&(account.to_string(), key.to_string()))
            .cloned())
    }

    async fn hold(&mut self, id: &str) -> Result<Option<Hold>> {
        Ok(self.state.holds.get(id).cloned())
    }

    async fn put_figures(
        &mut self,
        account: &str,
        figures: Figures,
        _now: Timestamp,
    ) -> Result<()> {
        let old = self.state.accounts.insert(account.to_string(), figures);
        self.undo.push(Undo::Account(account.to_string(), old));
        Ok(())
    }

    async fn put_hold(&mut self, hold: &Hold, _new: bool) -> Result<()> {
        let old = self.state.holds.insert(hold.id.clone(), hold.clone());
        self.undo.push(Undo::Hold(hold.id.clone(), old));
        Ok(())
    }

    async fn append(&mut self, entry: &Entry, _now: Timestamp) -> Result<()> {
        let k = (entry.account.clone(), entry.key.clone());
        self.state.entries.insert(k, entry.clone());
        self.undo
            .push(Undo::Entry(entry.account.clone(), entry.key.clone()));
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.undo.clear();
        Ok(())
    }
}

#[async_trait]
impl TxSource for MemorySource {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn begin(&self, _write: bool) -> Result<Box<dyn LedgerTx + '_>> {
        Ok(Box::new(MemoryTx {
            state: self.state.clone().lock_owned().await,
            undo: Vec::new(),
        }))
    }
}

forward_ledger!(MemoryLedger, "memory");
