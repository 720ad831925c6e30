//! Preference pairs from pairwise judgments (comparisons), across models: the winner's
//! answer is chosen, the loser's rejected, the prompt is the context both answered.
//!
//! Rules (docs/formats.md, "Datasets"):
//! - only preference formats, with `sources.dpo_comparisons` on;
//! - only comparisons with a response of the dataset's model (the other side may be any
//!   model: that is what makes them pairs across models), made in the configured range;
//! - a tie makes no pair (`comparison_tie`); nor do two responses whose conversation
//!   contexts differ (`comparison_context`: stores refuse such comparisons, this guards data
//!   from elsewhere), nor answers equal after normalisation (`identical_pair`);
//! - the pair goes through the same redaction, token limit, deduplication and split as every
//!   other example; its lineage `source` is `comparison_pair` and its `feedback_ids` hold the
//!   comparison's id.

use super::Builder;
use crate::dataset::config::ExampleKind;
use crate::dataset::dedup::normalize;
use crate::dataset::examples::{candidate, ExampleSource, Part};
use crate::dataset::redact::RedactionCounts;
use crate::model::{Comparison, ResponseRecord, Winner};

impl Builder {
    /// Adds a comparison with its two responses (`a` is `response_a`, `b` is `response_b`);
    /// see the module docs for when it makes a preference pair.
    pub fn add_comparison(&mut self, c: &Comparison, a: &ResponseRecord, b: &ResponseRecord) {
        if self.config.format.kind() != ExampleKind::Preference
            || !self.config.sources.dpo_comparisons
            || a.id != c.response_a
            || b.id != c.response_b
            || (a.model_id != self.model_id && b.model_id != self.model_id)
            || self.config.since.is_some_and(|s| c.created_at < s)
            || self.config.until.is_some_and(|u| c.created_at >= u)
        {
            return;
        }
        if a.context_key() != b.context_key() {
            return self.drop_one("comparison_context");
        }
        let (winner, loser) = match c.winner {
            Winner::A => (a, b),
            Winner::B => (b, a),
            Winner::Tie => return self.drop_one("comparison_tie"),
        };
        if normalize(&winner.response) == normalize(&loser.response) {
            return self.drop_one("identical_pair");
        }
        let w = candidate(
            winner,
            &[],
            self.config.system_prompt.as_deref(),
            &self.redactor,
        );
        // The prompt is the winner's (the same context); only the rejected answer is new
        // text, so the shared prompt's redactions are counted once.
        let mut counts = RedactionCounts::default();
        let rejected = self
            .redactor
            .redact(&loser.response, &mut counts)
            .into_owned();
        let mut e = w.example(ExampleSource::ComparisonPair, Part::Answer, None, None);
        e.rejected = Some(rejected);
        e.response_ids.push(loser.id.clone());
        e.feedback_ids = vec![c.id.clone()];
        // A direct judgment between the two answers: the strongest preference evidence.
        e.score = 1.0;
        e.category = "comparison".to_string();
        e.created_at = winner.created_at.max(loser.created_at);
        e.redactions.merge(&counts);
        self.examples.push(e);
    }
}

#[cfg(test)]
mod tests {
    use crate::dataset::{Builder, DatasetConfig, DatasetFormat};
    use crate::model::{parse_timestamp, Comparison, Message, ResponseRecord, Role, Winner};

    fn resp(id: &str, model: &str, query: &str, answer: &str) -> ResponseRecord {
        ResponseRecord::new(
            id,
            model,
            query,
            answer,
            parse_timestamp("2026-09-01T10:00:00Z").expect("valid"),
        )
    }

    fn config() -> DatasetConfig {
        DatasetConfig {
            format: DatasetFormat::TrlDpo,
            min_examples: 1,
            validation_fraction: 0.0,
            ..Default::default()
        }
    }

    fn cmp(a: &str, b: &str, w: Winner) -> Comparison {
        Comparison::new(
            "",
            a,
            b,
            w,
            parse_timestamp("2026-09-02T10:00:00Z").expect("valid"),
        )
    }

    #[test]
    fn winners_are_chosen_and_only_same_context_pairs_join() {
        let mine = resp(
            "r1",
            "bot",
            "How do I reset my password?",
            "Click 'Forgot password'.",
        );
        let other = resp(
            "r2",
            "rival",
            "how do I reset my  password?",
            "I cannot help.",
        );
        // Same last query, different prior turns: another conversation.
        let mut elsewhere = resp("r3", "rival", "How do I reset my password?", "Call us.");
        elsewhere.conversation.push(Message {
            role: Role::User,
            content: "I use the mobile app".into(),
        });
        let win = cmp("r2", "r1", Winner::B);
        let mut b = Builder::new("bot", &config()).expect("builder");
        b.add_comparison(&win, &other, &mine);
        b.add_comparison(&cmp("r1", "r3", Winner::A), &mine, &elsewhere);
        b.add_comparison(&cmp("r1", "r2", Winner::Tie), &mine, &other);
        // Neither response is the dataset's model: not this dataset's data.
        let third = resp("r4", "rival", "How do I reset my password?", "Try again.");
        b.add_comparison(&cmp("r2", "r4", Winner::A), &other, &third);
        let d = b.finish().expect("builds");
        let m = d.manifest();
        assert_eq!(m.counts.train, 1);
        assert_eq!(m.sources.get("comparison_pair"), Some(&1));
        assert_eq!(m.dropped.get("comparison_context"), Some(&1));
        assert_eq!(m.dropped.get("comparison_tie"), Some(&1));
        let line: serde_json::Value =
            serde_json::from_slice(d.train_jsonl().split(|&c| c == b'\n').next().expect("line"))
                .expect("JSON");
        assert!(
            line["chosen"].to_string().contains("Forgot password"),
            "{line}"
        );
        assert!(
            line["rejected"].to_string().contains("cannot help"),
            "{line}"
        );
        let lineage: serde_json::Value = serde_json::from_slice(
            d.lineage_jsonl()
                .split(|&c| c == b'\n')
                .next()
                .expect("line"),
        )
        .expect("JSON");
        assert_eq!(lineage["source"], "comparison_pair");
        assert_eq!(lineage["feedback_ids"][0], win.id.as_str());
        assert_eq!(lineage["response_ids"][0], "r1");
        assert_eq!(lineage["response_ids"][1], "r2");
    }

    #[test]
    fn off_switch_and_other_formats_ignore_comparisons() {
        let mine = resp("r1", "bot", "q?", "good");
        let other = resp("r2", "rival", "q?", "bad");
        let c = cmp("r1", "r2", Winner::A);
        let mut cfg = config();
        cfg.sources.dpo_comparisons = false;
        let mut b = Builder::new("bot", &cfg).expect("builder");
        b.add_comparison(&c, &mine, &other);
        assert!(b.finish().is_err(), "no examples without the source");
        let mut cfg = config();
        cfg.format = DatasetFormat::OpenaiChat;
        let mut b = Builder::new("bot", &cfg).expect("builder");
        b.add_comparison(&c, &mine, &other);
        assert!(b.finish().is_err(), "SFT takes no comparisons");
    }
}
