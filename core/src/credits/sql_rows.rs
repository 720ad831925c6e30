//! Row decoding shared by the SQL ledgers: both store amounts as BIGINT (i64) and times as
//! microseconds, so one generic decoder serves SQLite and PostgreSQL.

use super::{Hold, HoldStatus};
use crate::error::{Error, Result};
use crate::model::time::from_micros;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

/// An amount as BIGINT. Amounts are validated to be at most `MAX_AMOUNT = i64::MAX` before
/// they get here.
pub(super) fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A BIGINT column back as an amount; negative values mean the table was edited by hand.
pub(super) fn u64_of(column: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Storage {
        message: format!("ledger column {column} holds a negative value ({v})"),
        retryable: false,
        source: None,
    })
}

/// A `credit_holds` row as a [`Hold`]; `db_err` is the backend's error mapping.
pub(super) fn hold_from_row<R>(row: &R, db_err: fn(&str, sqlx::Error) -> Error) -> Result<Hold>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database>,
    R::Database: Database,
{
    let get = |e: sqlx::Error| db_err("reading a hold", e);
    let status: String = row.try_get("status").map_err(get)?;
    let posted: Option<i64> = row.try_get("posted").map_err(get)?;
    let resolved_at: Option<i64> = row.try_get("resolved_at").map_err(get)?;
    Ok(Hold {
        id: row.try_get("id").map_err(get)?,
        account: row.try_get("account").map_err(get)?,
        amount: u64_of("amount", row.try_get("amount").map_err(get)?)?,
        posted: posted.map(|p| u64_of("posted", p)).transpose()?,
        status: HoldStatus::parse(&status).ok_or_else(|| Error::Storage {
            message: format!("unknown hold status `{status}`"),
            retryable: false,
            source: None,
        })?,
        reserve_key: row.try_get("reserve_key").map_err(get)?,
        created_at: from_micros(row.try_get("created_at").map_err(get)?),
        resolved_at: resolved_at.map(from_micros),
    })
}
