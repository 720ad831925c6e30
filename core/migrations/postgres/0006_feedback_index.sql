-- tuneloop PostgreSQL schema, version 6: one index fewer on feedback.
--
-- Feedback of one response is found through the metrics index: a response's model, day and
-- creation time are copied into each of its feedback rows, so with `response_seq` as the
-- index's fourth column the four equalities pick exactly that response's feedback. The
-- separate `feedback_response` index went: every feedback insert updated it at a random
-- place (feedback arrives for responses in any order), about a fifth of COPY's server time
-- for the ingest benchmark's rows. `categories` joins the included columns, so metrics over a
-- day cut by a bound count categories from the index alone (an index-only scan instead of
-- one heap page per feedback row: 53 ms → 1 ms for one day of 200k rows).

DROP INDEX feedback_response;
DROP INDEX feedback_metrics;
CREATE INDEX feedback_metrics
    ON feedback (model_key, response_day, response_created_at, response_seq)
    INCLUDE (polarity, rating, categories);
