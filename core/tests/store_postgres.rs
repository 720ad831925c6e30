//! The PostgreSQL store against a real server named by `TUNELOOP_TEST_POSTGRES_URL`
//! (skipped, with a message, when it is not set): the shared conformance suite, each case
//! in its own schema, plus checks specific to PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

tuneloop::store_conformance_tests!(optional tuneloop::testing::postgres::fresh_store);
