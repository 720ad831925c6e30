//! Import behaviour a new user meets: atomicity, clear errors, reject files, idempotency.

use std::io::Cursor;
use std::sync::Arc;
use tuneloop::io::{export_jsonl, import_jsonl, ImportOptions, ImportReport};
use tuneloop::store::{open, FeedbackStore, MemoryStore, OpenOptions, ResponseFilter};
use tuneloop::Error;

const GOOD: &str = r#"{"type":"response","id":"r1","model_id":"m","query":"What is your refund policy?","response":"90 days","created_at":"2026-09-01T10:00:00Z","conversation":[{"role":"system","content":"Be brief."}],"metadata":{"k":"v"}}
{"type":"feedback","id":"f1","response_id":"r1","variant":"thumbs","thumbs_up":false,"comment":"wrong","created_at":"2026-09-01T10:05:00Z","user_id":"u9"}
{"type":"feedback","response_id":"r1","variant":"stars","rating":2,"created_at":"2026-09-01T10:06:00Z"}
{"type":"feedback","response_id":"r1","variant":"full","rating":1,"categories":["hallucination"],"comment":"made up","correction":"The refund window is 30 days.","created_at":"2026-09-01T10:07:00Z"}
"#;

async fn import(
    store: &Arc<dyn FeedbackStore>,
    text: &str,
    keep_going: bool,
) -> (Result<ImportReport, Error>, String) {
    let mut rejects: Vec<u8> = Vec::new();
    let opts = ImportOptions {
        keep_going,
        batch_size: 2,
        ..Default::default()
    };
    let result = if keep_going {
        import_jsonl(
            &**store,
            Cursor::new(text.as_bytes()),
            &opts,
            Some(&mut rejects),
            &|_| {},
        )
        .await
    } else {
        import_jsonl(&**store, Cursor::new(text.as_bytes()), &opts, None, &|_| {}).await
    };
    (result, String::from_utf8(rejects).expect("utf-8"))
}

async fn export(store: &Arc<dyn FeedbackStore>) -> String {
    let mut out = Vec::new();
    export_jsonl(&**store, &mut out, &ResponseFilter::default())
        .await
        .expect("export");
    String::from_utf8(out).expect("utf-8")
}

/// The same tests on every backend.
macro_rules! import_suite {
    ($name:ident, $factory:expr) => {
        mod $name {
            use super::*;

            async fn fresh() -> Arc<dyn FeedbackStore> {
                $factory
            }

    #[tokio::test]
            async fn good_file_imports_and_reimport_changes_nothing() {
                let store = fresh().await;
                let (r, _) = import(&store, GOOD, false).await;
                let r = r.expect("imports");
                assert_eq!(r.lines, 4);
                assert_eq!(
                    (r.summary.responses_inserted, r.summary.feedback_inserted),
                    (1, 3)
                );
                let before = export(&store).await;
                let (r, _) = import(&store, GOOD, false).await;
                let r = r.expect("re-imports");
                assert_eq!(
                    r.summary.responses_inserted + r.summary.feedback_inserted,
                    0
                );
                assert_eq!(r.summary.feedback_unchanged, 3);
                assert_eq!(export(&store).await, before);
            }

            #[tokio::test]
            async fn export_import_round_trip_is_lossless() {
                let a = fresh().await;
                import(&a, GOOD, false).await.0.expect("imports");
                let first = export(&a).await;
                let b = fresh().await;
                import(&b, &first, false)
                    .await
                    .0
                    .expect("re-imports export");
                assert_eq!(export(&b).await, first);
            }

            /// Each bad input a new user might try: rejected with line and reason, nothing written.
            #[tokio::test]
            async fn bad_inputs_are_rejected_and_change_nothing() {
                let big = "x".repeat(10 << 20);
                let cases: Vec<(String, &str, &str)> = vec![
                    ("{\"type\":\"response\",".into(), "line 5", "not valid JSON"),
                    (r#"{"type":"vote","id":"x"}"#.into(), "line 5: type", "not a record type"),
                    (
                        r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01"}"#.into(),
                        "line 5: rating",
                        "7 is out of range",
                    ),
                    (
                        r#"{"type":"feedback","response_id":"r1","variant":"thumbs","created_at":"2026-09-01"}"#.into(),
                        "line 5: thumbs_up",
                        "required",
                    ),
                    (
                        r#"{"type":"feedback","response_id":"nope","variant":"thumbs","thumbs_up":true,"created_at":"2026-09-01"}"#.into(),
                        "line 5: response_id",
                        "no response with id `nope`",
                    ),
                    (
                        r#"{"type":"response","id":"r1","model_id":"m","query":"Other question","response":"90 days","created_at":"2026-09-01T10:00:00Z"}"#.into(),
                        "line 5: id",
                        "different query",
                    ),
                    (
                        format!(r#"{{"type":"response","id":"r2","model_id":"m","query":"q","response":"{big}","created_at":"2026-09-01"}}"#),
                        "line 5: response",
                        "limit",
                    ),
                ];
                for (bad, where_, why) in cases {
                    let store = fresh().await;
                    let text = format!("{GOOD}{bad}\n");
                    let (r, _) = import(&store, &text, false).await;
                    let err = r.expect_err("must be rejected");
                    assert!(
                        matches!(err, Error::InvalidImport { total: 1, .. }),
                        "{err:?}"
                    );
                    let msg = err.to_string();
                    assert!(msg.contains(where_) && msg.contains(why), "{msg}");
                    assert!(msg.contains("nothing was imported"), "{msg}");
                    assert_eq!(store.stats().await.expect("stats").responses, 0, "{msg}");
                    assert_eq!(store.stats().await.expect("stats").feedback, 0, "{msg}");
                }
            }

            #[tokio::test]
            async fn conflicts_with_stored_data_leave_store_unchanged() {
                let store = fresh().await;
                import(&store, GOOD, false).await.0.expect("imports");
                let before = export(&store).await;
                let changed = GOOD.replace("\"wrong\"", "\"very wrong\"");
                let err = import(&store, &changed, false)
                    .await
                    .0
                    .expect_err("conflict");
                let msg = err.to_string();
                assert!(
                    msg.contains("line 2: id") && msg.contains("comment"),
                    "{msg}"
                );
                assert_eq!(export(&store).await, before);
            }

            #[tokio::test]
            async fn empty_input_is_an_error() {
                for text in ["", "\n\n  \n"] {
                    let store = fresh().await;
                    let err = import(&store, text, false).await.0.expect_err("empty");
                    assert!(err.to_string().contains("empty"), "{err}");
                }
            }

            #[tokio::test]
            async fn many_errors_report_first_twenty_and_a_count() {
                let mut text = String::new();
                for _ in 0..30 {
                    text.push_str("not json\n");
                }
                let err = import(&fresh().await, &text, false).await.0.expect_err("invalid");
                let Error::InvalidImport { errors, total } = &err else {
                    panic!("{err:?}")
                };
                assert_eq!(*total, 30);
                assert_eq!(errors.len(), 20);
                assert_eq!(errors[0].line, 1);
                assert!(err.to_string().contains("and 10 more"), "{err}");
            }

            #[tokio::test]
            async fn reject_file_keeps_good_lines_and_writes_bad_ones_verbatim() {
                let store = fresh().await;
                let bad1 = r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01"}"#;
                let bad2 = r#"{"type":"feedback","response_id":"ghost","variant":"thumbs","thumbs_up":true,"created_at":"2026-09-01"}"#;
                let text = format!("{bad1}\n{GOOD}{bad2}\n");
                let (r, rejects) = import(&store, &text, true).await;
                let r = r.expect("keeps going");
                assert_eq!(r.rejected, 2);
                assert_eq!(
                    (r.summary.responses_inserted, r.summary.feedback_inserted),
                    (1, 3)
                );
                let lines: Vec<serde_json::Value> = rejects
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("reject lines are JSON"))
                    .collect();
                assert_eq!(lines.len(), 2);
                let first = lines
                    .iter()
                    .find(|l| l["line"] == 1)
                    .expect("line 1 rejected");
                assert_eq!(first["input"], bad1);
                assert_eq!(first["field"], "rating");
                let last = lines
                    .iter()
                    .find(|l| l["line"] == 6)
                    .expect("line 6 rejected");
                assert_eq!(last["input"], bad2);
            }

            #[tokio::test]
            async fn feedback_before_its_response_is_accepted() {
                let store = fresh().await;
                let mut lines: Vec<&str> = GOOD.lines().collect();
                lines.reverse();
                let text = lines.join("\n");
                let r = import(&store, &text, false).await.0.expect("imports");
                assert_eq!(r.summary.feedback_inserted, 3);
            }

            #[tokio::test]
            async fn a_line_beyond_the_line_limit_is_rejected_without_buffering_it() {
                let store = fresh().await;
                let huge = format!(
                    "{{\"type\":\"response\",\"query\":\"{}\"}}\n",
                    "y".repeat(17 << 20)
                );
                let err = import(&store, &format!("{GOOD}{huge}"), false)
                    .await
                    .0
                    .expect_err("too long");
                assert!(err.to_string().contains("line 5: line is longer"), "{err}");
            }
        }
    };
}

import_suite!(memory, Arc::new(MemoryStore::new()));
import_suite!(
    sqlite,
    open("sqlite::memory:", &OpenOptions::default())
        .await
        .expect("in-memory SQLite opens")
);
