//! Error patterns: the negative responses clustered into groups of similar failures.
//!
//! A response is negative when at least one feedback item on it is negative. What a failure
//! is made of is clustered field by field (see [`cluster_negatives`]): the conversation
//! context (the query and, when the query is a filler such as "yes" or "go on", the earlier
//! user turns that carry the substance: [`substantive_context`]), the response, the comments
//! and the corrections of its negative feedback. The primary category (explicit, else
//! inferred by the [`Lexicon`]) is soft evidence: one small feature, so users who tag one
//! failure `hallucination` and others `factual_error` still land in one pattern. See
//! [`super::cluster`] for the method. Each cluster becomes an [`ErrorPattern`], whose
//! category is the majority of its members' categories (see [`pattern_category`]).

use super::categorize::{categorize, Lexicon, UNCATEGORIZED};
use super::cluster::{
    category_slot, cluster_vectors, tfidf, ClusterOptions, Clustering, SparseVec,
};
use super::stopwords::label_words;
use crate::model::{
    CategorySource, ErrorPattern, Feedback, PatternExample, Polarity, ResponseRecord, Role,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The category of a pattern whose members agree on none (no category reaches half of them).
pub const MIXED: &str = "mixed";

/// Relative weights of the fields of a negative response in its clustering vector. Each
/// field is a TF-IDF vector of its own (L2-normalised), scaled by its weight; the sum is
/// normalised again, so a missing field (no comment) leaves the others' balance alone.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldWeights {
    /// The conversation context: [`substantive_context`].
    pub context: f32,
    /// The model's response.
    pub response: f32,
    /// Comments of the negative feedback.
    pub comments: f32,
    /// Corrections of the negative feedback.
    pub corrections: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            context: 1.0,
            response: 0.5,
            comments: 1.0,
            corrections: 0.5,
        }
    }
}

/// Knobs of [`find_patterns`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternOptions {
    /// Share (0–1) of a categorised response's squared vector norm given to its primary
    /// category: small, so the category is evidence that nudges, not a partition (at 0.06,
    /// two otherwise identical failures tagged differently keep a cosine of 0.94).
    pub category_share: f32,
    /// Weights of the text fields.
    pub fields: FieldWeights,
    /// Clustering options.
    pub cluster: ClusterOptions,
    /// The rules that infer categories of uncategorised negative feedback.
    pub lexicon: Lexicon,
}

impl Default for PatternOptions {
    fn default() -> Self {
        PatternOptions {
            category_share: 0.06,
            fields: FieldWeights::default(),
            cluster: ClusterOptions::default(),
            lexicon: Lexicon::default(),
        }
    }
}

/// One negative response, ready to be clustered.
#[derive(Debug, Clone, PartialEq)]
pub struct NegativeResponse<'a> {
    /// The response.
    pub response: &'a ResponseRecord,
    /// Its category: the most frequent over its negative feedback (explicit counted before
    /// inferred on ties, then by name), `uncategorized` when none has one.
    pub category: String,
    /// All category names of its negative feedback, sorted.
    pub categories: Vec<String>,
    /// Non-blank comments of its negative feedback, oldest first.
    pub comments: Vec<String>,
    /// Non-blank corrections of its negative feedback, oldest first.
    pub corrections: Vec<String>,
    /// [`substantive_context`] of the response.
    pub context: String,
}

impl NegativeResponse<'_> {
    /// All its text (context, response, comments, corrections), from which pattern labels
    /// take their terms.
    pub fn text(&self) -> String {
        let mut t = self.context.clone();
        for part in std::iter::once(&self.response.response)
            .chain(&self.comments)
            .chain(&self.corrections)
        {
            t.push_str(" \n");
            t.push_str(part);
        }
        t
    }
}

/// User turns with fewer words than this (after stop words) are fillers ("yes", "go on",
/// "thanks", "ok please"): the context reaches back to an earlier user turn.
const SUBSTANTIVE_WORDS: usize = 3;

/// Earlier user turns looked at, at most.
const MAX_CONTEXT_TURNS: usize = 3;

/// The conversation context of a response as clustered: its query, preceded, while the
/// turns so far have fewer than 3 content words (label stop words, in any of the
/// stopwords-iso languages, removed), by up to 3 earlier user turns, newest first. A chat
/// whose last turn is "yes" is thus grouped by what the user asked before.
///
/// ```
/// use tuneloop::analysis::patterns::substantive_context;
/// use tuneloop::model::{parse_timestamp, Message, ResponseRecord, Role};
/// let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
/// let mut r = ResponseRecord::new("r1", "m", "yes please", "...", t);
/// r.conversation = vec![
///     Message { role: Role::User, content: "What is your refund policy?".into() },
///     Message { role: Role::Assistant, content: "Want the details?".into() },
/// ];
/// assert_eq!(substantive_context(&r), "What is your refund policy?\nyes please");
/// ```
pub fn substantive_context(r: &ResponseRecord) -> String {
    let mut words = label_words(&r.query).len();
    let mut parts = vec![r.query.as_str()];
    for m in r
        .conversation
        .iter()
        .rev()
        .filter(|m| m.role == Role::User)
        .take(MAX_CONTEXT_TURNS)
    {
        if words >= SUBSTANTIVE_WORDS {
            break;
        }
        words += label_words(&m.content).len();
        parts.push(&m.content);
    }
    parts.reverse();
    parts.join("\n")
}

/// The negative responses among `responses`, in input order, with their categories.
pub fn negative_responses<'a>(
    responses: &'a [ResponseRecord],
    feedback: &[Feedback],
    lexicon: &Lexicon,
) -> Vec<NegativeResponse<'a>> {
    let mut by_response: HashMap<&str, Vec<&Feedback>> = HashMap::new();
    for f in feedback {
        if f.polarity() == Polarity::Negative {
            by_response.entry(&f.response_id).or_default().push(f);
        }
    }
    responses
        .iter()
        .filter_map(|r| {
            let mut fs = by_response.get(r.id.as_str())?.clone();
            fs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            // (count, explicit count) per category.
            let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            let mut comments = Vec::new();
            let mut corrections = Vec::new();
            for f in &fs {
                if let Some(c) = f.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                    comments.push(c.to_string());
                }
                if let Some(c) = f.correction().filter(|c| !c.trim().is_empty()) {
                    corrections.push(c.to_string());
                }
                let c = categorize(f, Some(r), lexicon);
                match c.source {
                    CategorySource::Uncategorized => {}
                    CategorySource::Explicit => {
                        for e in &c.evidence {
                            counts.entry(e.clone()).or_default();
                        }
                        let e = counts.entry(c.category).or_default();
                        e.0 += 1;
                        e.1 += 1;
                    }
                    CategorySource::Inferred => counts.entry(c.category).or_default().0 += 1,
                }
            }
            let category = counts
                .iter()
                .filter(|(_, (n, _))| *n > 0)
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or_else(|| UNCATEGORIZED.to_string(), |(c, _)| c.clone());
            Some(NegativeResponse {
                response: r,
                category,
                categories: counts.into_keys().collect(),
                comments,
                corrections,
                context: substantive_context(r),
            })
        })
        .collect()
}

/// Clusters the negative responses among `responses` into error patterns, largest first
/// (ties by id). Deterministic for the same input and options.
pub fn find_patterns(
    responses: &[ResponseRecord],
    feedback: &[Feedback],
    options: &PatternOptions,
) -> Vec<ErrorPattern> {
    let negatives = negative_responses(responses, feedback, &options.lexicon);
    let texts: Vec<String> = negatives.iter().map(NegativeResponse::text).collect();
    let clustering = cluster_negatives(&negatives, &texts, options);
    patterns_from_labels(
        &negatives,
        &texts,
        &clustering.labels,
        &clustering.similarity,
    )
}

/// Clusters negatives: per field (context, response, comments, corrections) a TF-IDF vector
/// over all negatives, summed with [`PatternOptions::fields`] weights and normalised, plus the
/// primary category as one extra feature carrying [`PatternOptions::category_share`] of the
/// squared norm (none for uncategorized responses). `texts` is not used for the features (it
/// is kept for callers that pass [`NegativeResponse::text`]).
pub fn cluster_negatives(
    negatives: &[NegativeResponse<'_>],
    _texts: &[String],
    options: &PatternOptions,
) -> Clustering {
    let bits = options.cluster.dim_bits;
    let w = &options.fields;
    let field = |get: &dyn Fn(&NegativeResponse<'_>) -> String| -> Vec<SparseVec> {
        let texts: Vec<String> = negatives.iter().map(get).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        tfidf(&refs, bits)
    };
    let fields: Vec<(f32, Vec<SparseVec>)> = vec![
        (w.context, field(&|n| n.context.clone())),
        (w.response, field(&|n| n.response.response.clone())),
        (w.comments, field(&|n| n.comments.join("\n"))),
        (w.corrections, field(&|n| n.corrections.join("\n"))),
    ];
    let share = options.category_share.clamp(0.0, 1.0);
    let vecs: Vec<SparseVec> = (0..negatives.len())
        .map(|i| {
            let mut entries: Vec<(u32, f32)> = Vec::new();
            for (weight, vs) in &fields {
                let v = &vs[i];
                entries.extend(v.idx.iter().zip(&v.val).map(|(&k, &x)| (k, x * weight)));
            }
            let mut v = sum_entries(entries);
            let n = &negatives[i];
            if n.category != UNCATEGORIZED && share > 0.0 && !v.idx.is_empty() {
                let text_scale = (1.0 - share).sqrt();
                v.val.iter_mut().for_each(|x| *x *= text_scale);
                let slot = category_slot(&n.category, bits);
                v = sum_entries(
                    v.idx
                        .iter()
                        .copied()
                        .zip(v.val.iter().copied())
                        .chain(std::iter::once((slot, share.sqrt())))
                        .collect(),
                );
            }
            v
        })
        .collect();
    cluster_vectors(&vecs, bits, &options.cluster)
}

/// A normalised sparse vector from (slot, value) entries, values of a slot added.
fn sum_entries(mut entries: Vec<(u32, f32)>) -> SparseVec {
    entries.sort_by_key(|e| e.0);
    let mut v = SparseVec::default();
    for (k, x) in entries {
        if v.idx.last() == Some(&k) {
            if let Some(last) = v.val.last_mut() {
                *last += x;
            }
        } else {
            v.idx.push(k);
            v.val.push(x);
        }
    }
    let norm = v.val.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.val.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// A pattern's category and its share, from its members' primary categories (explicit,
/// else inferred; `uncategorized` without either).
///
/// The share counts every member in the denominator, uncategorized ones included: it is
/// (members whose primary category is the most frequent real category) / (all members).
/// The category is that most frequent category (ties: by name) when its share is at least
/// one half, [`MIXED`] when it is below one half, and `uncategorized` (share 0) when no member
/// has a category. So 1 tagged member of 469 gives `mixed` (or `uncategorized`), never its tag.
///
/// ```
/// use tuneloop::analysis::patterns::pattern_category;
/// assert_eq!(pattern_category(["a", "a", "b", "uncategorized"]), ("a".to_string(), 0.5));
/// assert_eq!(pattern_category(["a", "uncategorized", "uncategorized"]).0, "mixed");
/// assert_eq!(pattern_category(["uncategorized"]), ("uncategorized".to_string(), 0.0));
/// ```
pub fn pattern_category<'a>(members: impl IntoIterator<Item = &'a str>) -> (String, f64) {
    let mut total = 0usize;
    let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
    for c in members {
        total += 1;
        if c != UNCATEGORIZED {
            *cats.entry(c).or_default() += 1;
        }
    }
    let top = cats
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, n)| (*c, *n));
    match top {
        None => (UNCATEGORIZED.to_string(), 0.0),
        Some((c, n)) => {
            let share = n as f64 / total.max(1) as f64;
            if 2 * n >= total {
                (c.to_string(), share)
            } else {
                (MIXED.to_string(), share)
            }
        }
    }
}

/// Builds the patterns of a given clustering of `negatives` (`labels[i]`, similarity of each
/// to its centroid in `similarity[i]`).
pub fn patterns_from_labels(
    negatives: &[NegativeResponse<'_>],
    texts: &[String],
    labels: &[usize],
    similarity: &[f32],
) -> Vec<ErrorPattern> {
    let total = negatives.len();
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate().take(total) {
        members[l].push(i);
    }
    // Document frequency of each word over all negatives, for distinctiveness.
    let doc_words: Vec<BTreeSet<String>> = texts
        .iter()
        .map(|t| label_words(t).into_iter().collect())
        .collect();
    let mut df: HashMap<&str, usize> = HashMap::new();
    for ws in &doc_words {
        for w in ws {
            *df.entry(w.as_str()).or_default() += 1;
        }
    }
    let mut out: Vec<ErrorPattern> = members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|m| {
            let size = m.len();
            let (category, category_share) =
                pattern_category(m.iter().map(|&i| negatives[i].category.as_str()));
            let corrections = m.iter().map(|&i| negatives[i].corrections.len()).sum();
            let mut dfc: HashMap<&str, usize> = HashMap::new();
            for &i in &m {
                for w in &doc_words[i] {
                    *dfc.entry(w.as_str()).or_default() += 1;
                }
            }
            // Distinctiveness: share of members with the word minus share of other negatives.
            let rest = (total - size).max(1) as f64;
            let mut scored: Vec<(f64, &str)> = dfc
                .iter()
                .filter(|(_, &c)| c >= 2 || size == 1)
                .map(|(&w, &c)| {
                    let inside = c as f64 / size as f64;
                    let outside = (df.get(w).copied().unwrap_or(c) - c) as f64 / rest;
                    (inside - outside, w)
                })
                .filter(|(s, _)| *s > 0.0)
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let top_terms: Vec<String> =
                scored.iter().take(8).map(|(_, w)| w.to_string()).collect();
            let cat_words: Vec<&str> = category.split('_').collect();
            let label_terms: Vec<&str> = top_terms
                .iter()
                .map(String::as_str)
                .filter(|w| !cat_words.contains(w))
                .take(3)
                .collect();
            // A category prefixes the label only when the members agree on it.
            let label = match (label_terms.is_empty(), category.as_str()) {
                (true, _) => category.clone(),
                (false, MIXED | UNCATEGORIZED) => label_terms.join(" "),
                (false, c) => format!("{c}: {}", label_terms.join(" ")),
            };
            let mut by_sim = m.clone();
            by_sim.sort_by(|&a, &b| {
                similarity[b]
                    .total_cmp(&similarity[a])
                    .then(negatives[a].response.id.cmp(&negatives[b].response.id))
            });
            // Closest first, skipping repeats of an already quoted query and comment.
            let mut examples: Vec<PatternExample> = Vec::new();
            for &i in &by_sim {
                let e = PatternExample {
                    response_id: negatives[i].response.id.clone(),
                    query: negatives[i].response.query.clone(),
                    comment: negatives[i].comments.first().cloned(),
                };
                if !examples
                    .iter()
                    .any(|x| x.query == e.query && x.comment == e.comment)
                {
                    examples.push(e);
                }
                if examples.len() == 3 {
                    break;
                }
            }
            let mut response_ids: Vec<String> = m
                .iter()
                .map(|&i| negatives[i].response.id.clone())
                .collect();
            response_ids.sort();
            let models: BTreeSet<String> = m
                .iter()
                .map(|&i| negatives[i].response.model_id.clone())
                .collect();
            let first_seen = m.iter().map(|&i| negatives[i].response.created_at).min();
            let last_seen = m.iter().map(|&i| negatives[i].response.created_at).max();
            let id = {
                use sha2::{Digest, Sha256};
                let mut h = Sha256::new();
                for r in &response_ids {
                    h.update(r.as_bytes());
                    h.update(b"\n");
                }
                format!("p-{}", &hex::encode(h.finalize())[..12])
            };
            ErrorPattern {
                id,
                label,
                category,
                category_share,
                size,
                share: size as f64 / total.max(1) as f64,
                corrections,
                response_ids,
                models: models.into_iter().collect(),
                top_terms,
                examples,
                first_seen: first_seen.unwrap_or_default(),
                last_seen: last_seen.unwrap_or_default(),
                // Needs the trend query (model, range); `weekly::pattern_trends` fills it.
                trend: None,
            }
        })
        .collect();
    out.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ari::adjusted_rand_index;
    use crate::demo::{generate, DemoOptions};
    use crate::model::{parse_timestamp, Category, FeedbackKind, Message};

    /// Two failures, each tagged by users with either of two related categories (or none),
    /// half of the chats ending in a filler turn.
    fn two_failures() -> (Vec<ResponseRecord>, Vec<Feedback>, Vec<usize>) {
        let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
        let (mut rs, mut fs, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..60 {
            let which = i % 2;
            let (query, answer, comment, cats) = if which == 0 {
                (
                    format!("What is the refund policy for order {i}?"),
                    "Refunds within 90 days, no receipt needed.",
                    "made up refund window, it is 30 days",
                    ["hallucination", "factual_error"],
                )
            } else {
                (
                    format!("Write a python function to parse csv file {i}"),
                    "def load(path): return list(csv.reader(open(path)",
                    "the python code crashes with SyntaxError",
                    ["code_error", "incomplete"],
                )
            };
            let id = format!("r{i:02}");
            let mut r = ResponseRecord::new(&id, "m", query.clone(), answer, t);
            if i % 4 >= 2 {
                r.conversation = vec![
                    Message {
                        role: Role::User,
                        content: query,
                    },
                    Message {
                        role: Role::Assistant,
                        content: "Shall I go on?".into(),
                    },
                ];
                r.query = ["yes", "go on", "thanks", "ok"][i % 4].into();
            }
            let kind = match i % 3 {
                0 => FeedbackKind::Thumbs { up: false },
                k => FeedbackKind::Full {
                    rating: 1,
                    categories: vec![Category::new(cats[k - 1]).unwrap()],
                    correction: None,
                },
            };
            let mut f = Feedback::new(format!("f{i:02}"), &id, kind, t);
            f.comment = (i % 5 != 0).then(|| comment.to_string());
            rs.push(r);
            fs.push(f);
            truth.push(which);
        }
        (rs, fs, truth)
    }

    #[test]
    fn related_categories_and_filler_turns_do_not_split_a_failure() {
        let (rs, fs, truth) = two_failures();
        let patterns = find_patterns(&rs, &fs, &PatternOptions::default());
        let mut found = vec![usize::MAX; rs.len()];
        for (j, p) in patterns.iter().enumerate() {
            for id in &p.response_ids {
                found[id[1..].parse::<usize>().unwrap()] = j;
            }
        }
        assert_eq!(adjusted_rand_index(&truth, &found), 1.0, "{patterns:#?}");
        for p in &patterns {
            // Explicit tags split a third / a third, the lexicon infers one from the
            // comments of the thumbs: the majority rule decides, and the share says how far.
            assert!(p.category_share > 0.0 && p.category_share < 1.0, "{p:#?}");
            assert_eq!(p.category == MIXED, p.category_share < 0.5, "{p:#?}");
            for w in ["don't", "that's", "not", "yes", "it"] {
                assert!(!p.top_terms.iter().any(|t| t == w), "{:?}", p.top_terms);
            }
        }
    }

    #[test]
    fn one_tagged_member_does_not_name_a_pattern() {
        let mut members = vec!["uncategorized"; 468];
        members.push("factual_error");
        let (c, share) = pattern_category(members.iter().copied());
        assert_eq!(c, MIXED);
        assert!((share - 1.0 / 469.0).abs() < 1e-12);
        let (c, share) = pattern_category(["unsafe"; 4].into_iter().chain(["tone"; 258]));
        assert_eq!((c.as_str(), share), ("tone", 258.0 / 262.0));
    }

    #[test]
    fn filler_queries_take_the_earlier_turn() {
        let t = parse_timestamp("2026-09-01T10:00:00Z").unwrap();
        let mut r = ResponseRecord::new("r", "m", "go on", "...", t);
        assert_eq!(substantive_context(&r), "go on");
        r.conversation = vec![
            Message {
                role: Role::User,
                content: "Tell me about the refund policy".into(),
            },
            Message {
                role: Role::Assistant,
                content: "Sure, shall I?".into(),
            },
            Message {
                role: Role::User,
                content: "ok".into(),
            },
        ];
        assert_eq!(
            substantive_context(&r),
            "Tell me about the refund policy\nok\ngo on"
        );
        r.query = "What about refunds for gift cards bought online?".into();
        assert_eq!(substantive_context(&r), r.query);
    }

    #[test]
    fn demo_planted_patterns_are_recovered() {
        let world = generate(&DemoOptions::default());
        let (responses, feedback) = (&world.batch.responses, &world.batch.feedback);
        let options = PatternOptions::default();
        let negatives = negative_responses(responses, feedback, &options.lexicon);
        let texts: Vec<String> = negatives.iter().map(NegativeResponse::text).collect();
        let c = cluster_negatives(&negatives, &texts, &options);
        let mut planted: HashMap<&str, &str> = HashMap::new();
        for p in &world.planted {
            for id in &p.response_ids {
                planted.insert(id, &p.name);
            }
        }
        // Over the planted responses only (all of them are negative).
        let (mut truth, mut found) = (Vec::new(), Vec::new());
        // Treating every non-planted negative as one more label "background".
        let (mut truth_all, mut found_all) = (Vec::new(), Vec::new());
        for (n, &l) in negatives.iter().zip(&c.labels) {
            let p = planted.get(n.response.id.as_str()).copied();
            if let Some(p) = p {
                truth.push(p);
                found.push(l);
            }
            truth_all.push(p.unwrap_or("background"));
            found_all.push(l);
        }
        assert_eq!(truth.len(), planted.len());
        let ari = adjusted_rand_index(&truth, &found);
        let ari_all = adjusted_rand_index(&truth_all, &found_all);
        eprintln!(
            "negatives {} planted {} k {} silhouette {:.3} ARI(planted) {ari:.3} ARI(all, background one label) {ari_all:.3}",
            negatives.len(),
            truth.len(),
            c.k,
            c.silhouette
        );
        assert!(ari >= 0.8, "ARI {ari}");
        let patterns = find_patterns(responses, feedback, &options);
        for p in &patterns {
            eprintln!(
                "{:>4} {:.3} {} {} {:?}",
                p.size, p.share, p.id, p.label, p.models
            );
        }
        assert_eq!(patterns, find_patterns(responses, feedback, &options));
        assert_eq!(
            patterns.iter().map(|p| p.size).sum::<usize>(),
            negatives.len()
        );
    }
}
