//! Error patterns: the negative responses clustered into groups of similar failures.
//!
//! A response is negative when at least one feedback item on it is negative. Its text for
//! clustering is its query, the comments of its negative feedback and the category names of
//! that feedback (explicit, else inferred by the [`Lexicon`]); see [`super::cluster`] for the
//! method. Each cluster becomes an [`ErrorPattern`].

use super::categorize::{categorize, Lexicon, UNCATEGORIZED};
use super::cluster::{category_slot, cluster_vectors, tfidf, ClusterOptions, Clustering};
use crate::model::{
    CategorySource, ErrorPattern, Feedback, PatternExample, Polarity, ResponseRecord,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Knobs of [`find_patterns`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatternOptions {
    /// Share (0–1) of a categorised response's squared vector norm given to its primary
    /// category, so responses users put in one category stay together across wordings.
    pub category_share: f32,
    /// Clustering options.
    pub cluster: ClusterOptions,
    /// The rules that infer categories of uncategorised negative feedback.
    pub lexicon: Lexicon,
}

impl Default for PatternOptions {
    fn default() -> Self {
        PatternOptions {
            category_share: 0.5,
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
}

impl NegativeResponse<'_> {
    /// The text that is clustered: query, comments and category names.
    pub fn text(&self) -> String {
        let mut t = self.response.query.clone();
        for c in &self.comments {
            t.push_str(" \n");
            t.push_str(c);
        }
        for c in &self.categories {
            t.push_str(" \n");
            // `code_error` → `code error`, so the words also match comments.
            t.push_str(&c.replace('_', " "));
        }
        t
    }
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
            for f in &fs {
                if let Some(c) = f.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                    comments.push(c.to_string());
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

/// Clusters negatives: TF-IDF of their texts, with their primary category as an extra
/// feature carrying [`PatternOptions::category_share`] of each vector's squared norm.
pub fn cluster_negatives(
    negatives: &[NegativeResponse<'_>],
    texts: &[String],
    options: &PatternOptions,
) -> Clustering {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bits = options.cluster.dim_bits;
    let mut vecs = tfidf(&refs, bits);
    let share = options.category_share.clamp(0.0, 1.0);
    for (v, n) in vecs.iter_mut().zip(negatives) {
        if n.category == UNCATEGORIZED || share == 0.0 {
            continue;
        }
        let slot = category_slot(&n.category, bits);
        let text_scale = (1.0 - share).sqrt();
        v.val.iter_mut().for_each(|x| *x *= text_scale);
        match v.idx.binary_search(&slot) {
            Ok(p) => v.val[p] += share.sqrt(),
            Err(p) => {
                v.idx.insert(p, slot);
                v.val.insert(p, share.sqrt());
            }
        }
        let norm = v.val.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.val.iter_mut().for_each(|x| *x /= norm);
        }
    }
    cluster_vectors(&vecs, bits, &options.cluster)
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
        .map(|t| super::cluster::words(t).into_iter().collect())
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
            let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
            for &i in &m {
                *cats.entry(negatives[i].category.as_str()).or_default() += 1;
            }
            let category = cats
                .iter()
                .filter(|(c, _)| **c != UNCATEGORIZED)
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(UNCATEGORIZED, |(c, _)| c)
                .to_string();
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
            let label = if label_terms.is_empty() {
                category.clone()
            } else {
                format!("{category}: {}", label_terms.join(" "))
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
                size,
                share: size as f64 / total.max(1) as f64,
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
