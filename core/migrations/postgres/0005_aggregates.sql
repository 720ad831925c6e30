-- tuneloop PostgreSQL schema, version 5: daily aggregates for metrics and trends.
--
-- Counts per (model, day) maintained by the writer in the same transaction as the rows they
-- count, so metrics over whole days read a few rows per day instead of every feedback item.
-- Days are those of the response (`responses.day`, `feedback.response_day`). Rating 0
-- stands for "no rating" (it is part of the key, so it cannot be NULL). Categories count
-- one per category per feedback item, as metrics do. `tuneloop repair aggregates` rebuilds
-- them from the rows and `tuneloop check db` compares them with the rows.

CREATE TABLE agg_responses (
    model_key BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (model_key, day)
);

CREATE TABLE agg_feedback (
    model_key BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    polarity  BIGINT NOT NULL,
    rating    BIGINT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (model_key, day, polarity, rating)
);

CREATE TABLE agg_categories (
    model_key BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    category  TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (model_key, day, category)
);

-- Negative feedback items per category (each category once per item) on responses of a
-- model made on a day: the weekly series of `tuneloop trends`.
CREATE TABLE agg_negatives (
    model_key BIGINT NOT NULL,
    day       BIGINT NOT NULL,
    category  TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (model_key, day, category)
);

INSERT INTO agg_responses (model_key, day, n)
    SELECT model_key, day, COUNT(*) FROM responses GROUP BY model_key, day;

INSERT INTO agg_feedback (model_key, day, polarity, rating, n)
    SELECT model_key, response_day, polarity, COALESCE(rating, 0), COUNT(*)
    FROM feedback GROUP BY model_key, response_day, polarity, COALESCE(rating, 0);

INSERT INTO agg_categories (model_key, day, category, n)
    SELECT f.model_key, f.response_day, c, COUNT(*)
    FROM feedback AS f CROSS JOIN LATERAL unnest(f.categories) AS c
    WHERE f.categories IS NOT NULL
    GROUP BY f.model_key, f.response_day, c;

INSERT INTO agg_negatives (model_key, day, category, n)
    SELECT f.model_key, f.response_day, c, COUNT(DISTINCT f.seq)
    FROM feedback AS f CROSS JOIN LATERAL unnest(f.categories) AS c
    WHERE f.categories IS NOT NULL AND f.polarity = -1
    GROUP BY f.model_key, f.response_day, c;
