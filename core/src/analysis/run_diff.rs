//! Comparing the error patterns of two analyses (`runs diff`).

use crate::model::{ErrorPattern, PatternChange, PatternDiff};
use std::collections::HashSet;

/// Shared members over the members of the smaller pattern.
fn overlap(a: &ErrorPattern, b: &ErrorPattern) -> f64 {
    let set: HashSet<&str> = a.response_ids.iter().map(String::as_str).collect();
    let shared = b
        .response_ids
        .iter()
        .filter(|id| set.contains(id.as_str()))
        .count();
    let smaller = a.response_ids.len().min(b.response_ids.len());
    if smaller == 0 {
        0.0
    } else {
        shared as f64 / smaller as f64
    }
}

/// How the patterns changed from `a` (earlier) to `b` (later). Each pattern of `b` is
/// matched to the pattern of `a` with the same id, else to the unmatched pattern of `a`
/// sharing the most members if they share at least half of the smaller one's members
/// (pattern ids are not stable across runs, their members are). Matched patterns are
/// grown, shrunk or unchanged by size; the rest of `b` is new, the rest of `a` resolved.
pub fn diff_patterns(a: &[ErrorPattern], b: &[ErrorPattern]) -> PatternDiff {
    let mut d = PatternDiff::default();
    let mut used = vec![false; a.len()];
    let mut matched: Vec<Option<usize>> = vec![None; b.len()];
    for (j, q) in b.iter().enumerate() {
        if let Some(i) = a.iter().position(|p| p.id == q.id) {
            used[i] = true;
            matched[j] = Some(i);
        }
    }
    for (j, q) in b.iter().enumerate() {
        if matched[j].is_some() {
            continue;
        }
        // Ties go to the earlier (larger) pattern of `a`, so the result is deterministic.
        let best = a
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, p)| (i, overlap(p, q)))
            .filter(|(_, o)| *o >= 0.5)
            .max_by(|x, y| x.1.total_cmp(&y.1).then_with(|| y.0.cmp(&x.0)));
        if let Some((i, _)) = best {
            used[i] = true;
            matched[j] = Some(i);
        }
    }
    for (j, q) in b.iter().enumerate() {
        let entry = |prev: Option<&ErrorPattern>| PatternChange {
            id: q.id.clone(),
            previous_id: prev.map(|p| p.id.clone()),
            label: q.label.clone(),
            category: q.category.clone(),
            size_before: prev.map_or(0, |p| p.size),
            size_after: q.size,
        };
        match matched[j].map(|i| &a[i]) {
            None => d.new.push(entry(None)),
            Some(p) if q.size > p.size => d.grown.push(entry(Some(p))),
            Some(p) if q.size < p.size => d.shrunk.push(entry(Some(p))),
            Some(p) => d.unchanged.push(entry(Some(p))),
        }
    }
    for (i, p) in a.iter().enumerate() {
        if !used[i] {
            d.resolved.push(PatternChange {
                id: p.id.clone(),
                previous_id: None,
                label: p.label.clone(),
                category: p.category.clone(),
                size_before: p.size,
                size_after: 0,
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, members: &[&str]) -> ErrorPattern {
        let t = crate::model::parse_timestamp("2026-09-01T00:00:00Z").unwrap();
        ErrorPattern {
            id: id.into(),
            label: id.into(),
            category: "other".into(),
            category_share: 1.0,
            corrections: 0,
            size: members.len(),
            share: 0.1,
            response_ids: members.iter().map(|s| s.to_string()).collect(),
            models: vec![],
            top_terms: vec![],
            examples: vec![],
            first_seen: t,
            last_seen: t,
            trend: None,
        }
    }

    #[test]
    fn diff_matches_by_id_then_overlap() {
        let a = vec![
            p("p-1", &["a", "b"]),
            p("p-2", &["c", "d", "e", "f"]),
            p("p-3", &["g"]),
        ];
        let b = vec![
            p("p-1", &["a", "b", "x"]),
            p("p-9", &["c", "d", "y"]),
            p("p-8", &["z"]),
        ];
        let d = diff_patterns(&a, &b);
        assert_eq!(d.grown.len(), 1);
        assert_eq!(d.grown[0].id, "p-1");
        assert_eq!(d.shrunk.len(), 1);
        assert_eq!(d.shrunk[0].previous_id.as_deref(), Some("p-2"));
        assert_eq!((d.shrunk[0].size_before, d.shrunk[0].size_after), (4, 3));
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.new[0].id, "p-8");
        assert_eq!(d.new[0].previous_id, None);
        assert_eq!(d.resolved.len(), 1);
        assert_eq!(d.resolved[0].id, "p-3");
        assert_eq!(d.resolved[0].size_after, 0);
    }

    #[test]
    fn overlap_below_half_is_not_a_match_and_a_pattern_matches_once() {
        // p-5 shares 1 of 3 members with p-2: not the same pattern.
        let d = diff_patterns(&[p("p-2", &["a", "b", "c"])], &[p("p-5", &["a", "x", "y"])]);
        assert_eq!((d.new.len(), d.resolved.len()), (1, 1));
        // Two later patterns overlapping one earlier pattern: only the first is matched.
        let d = diff_patterns(
            &[p("p-1", &["a", "b", "c", "d"])],
            &[p("p-7", &["a", "b"]), p("p-8", &["c", "d"])],
        );
        assert_eq!(d.shrunk.len(), 1);
        assert_eq!(d.shrunk[0].id, "p-7");
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.new[0].id, "p-8");
        assert!(d.resolved.is_empty());
    }

    #[test]
    fn the_same_patterns_are_unchanged() {
        let a = vec![p("p-1", &["a", "b"]), p("p-2", &["c"])];
        let d = diff_patterns(&a, &a);
        assert_eq!(d.unchanged.len(), 2);
        assert!(d.new.is_empty() && d.grown.is_empty() && d.shrunk.is_empty());
        assert!(d.resolved.is_empty());
    }
}
