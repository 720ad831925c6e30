//! Cost estimates: billing tokens × epochs × price per 1M tokens, rounded up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Prices per base model: the `[prices]` section of `tuneloop.toml`, mapping a base model
/// name to its price in whole credits per 1,000,000 training tokens.
///
/// ```
/// let prices: tuneloop::policy::Prices =
///     serde_json::from_str(r#"{"gpt-4.1-mini-2025-04-14": 5}"#).unwrap();
/// assert_eq!(prices.get("gpt-4.1-mini-2025-04-14"), Some(5));
/// assert_eq!(prices.get("unknown"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Prices {
    /// Base model → credits per 1M training tokens.
    pub per_million: BTreeMap<String, u64>,
}

impl Prices {
    /// The price of `base_model` per 1M training tokens, `None` when it has none.
    pub fn get(&self, base_model: &str) -> Option<u64> {
        self.per_million.get(base_model).copied()
    }

    /// Checks the table; the error names the offending entry.
    pub fn validate(&self) -> Result<()> {
        if self.per_million.keys().any(|k| k.trim().is_empty()) {
            return Err(Error::invalid("prices", "a base model name is empty"));
        }
        Ok(())
    }
}

/// Estimated cost in credits of training on `billing_tokens` per epoch for `epochs` epochs at
/// `price_per_million` credits per 1M tokens, rounded up to a whole credit.
///
/// The product is computed exactly in 128 bits. A result past `u64::MAX` (which only absurd
/// inputs reach) saturates to `u64::MAX`: it is larger than any ledger's
/// largest amount (`credits::MAX_AMOUNT`), so the credits check fails rather than wrapping to a
/// small, affordable-looking number.
///
/// ```
/// use tuneloop::policy::estimate_cost;
/// assert_eq!(estimate_cost(1_000_000, 3, 8), 24);
/// assert_eq!(estimate_cost(1, 1, 1), 1); // rounded up
/// assert_eq!(estimate_cost(0, 3, 8), 0);
/// ```
pub fn estimate_cost(billing_tokens: u64, epochs: u32, price_per_million: u64) -> u64 {
    let product = u128::from(billing_tokens)
        .checked_mul(u128::from(epochs))
        .and_then(|p| p.checked_mul(u128::from(price_per_million)));
    match product {
        Some(p) => u64::try_from(p.div_ceil(1_000_000)).unwrap_or(u64::MAX),
        None => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_when_whole() {
        assert_eq!(estimate_cost(2_000_000, 3, 25), 150);
        assert_eq!(estimate_cost(500_000, 2, 7), 7);
    }

    #[test]
    fn cost_rounds_up_any_fraction() {
        // 999,999 × 1 × 1 = 0.999999 credits → 1; 1,000,001 → 1.000001 → 2.
        assert_eq!(estimate_cost(999_999, 1, 1), 1);
        assert_eq!(estimate_cost(1_000_001, 1, 1), 2);
        assert_eq!(estimate_cost(1_000_000, 1, 1), 1);
        assert_eq!(estimate_cost(333_333, 3, 1), 1);
    }

    #[test]
    fn zero_anything_costs_nothing() {
        assert_eq!(estimate_cost(0, 3, 25), 0);
        assert_eq!(estimate_cost(1_000, 0, 25), 0);
        assert_eq!(estimate_cost(1_000, 3, 0), 0);
    }

    #[test]
    fn huge_products_are_exact_then_saturate() {
        // Past u64 in the intermediate product, but the result still fits: exact.
        assert_eq!(
            estimate_cost(u64::MAX, 1_000_000, 1),
            u64::MAX,
            "u64::MAX × 1e6 / 1e6"
        );
        assert_eq!(estimate_cost(u64::MAX / 2, 2, 1_000_000), u64::MAX - 1);
        // Past u64 in the result: saturates.
        assert_eq!(estimate_cost(u64::MAX, 2, 1_000_000), u64::MAX);
        // Past u128 in the product: saturates, no panic.
        assert_eq!(estimate_cost(u64::MAX, u32::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn prices_read_and_validate() {
        let p: Prices = serde_json::from_str(r#"{"base-a": 8, "base-b": 0}"#).unwrap();
        assert_eq!(p.get("base-a"), Some(8));
        assert_eq!(p.get("base-b"), Some(0));
        assert!(p.validate().is_ok());
        let bad: Prices = serde_json::from_str(r#"{" ": 8}"#).unwrap();
        let e = bad.validate().unwrap_err();
        assert!(e.to_string().contains("prices"), "{e}");
        assert!(serde_json::from_str::<Prices>(r#"{"a": -1}"#).is_err());
        assert!(serde_json::from_str::<Prices>(r#"{"a": 1.5}"#).is_err());
    }
}
