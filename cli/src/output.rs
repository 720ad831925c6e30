//! Text rendering: tables, series and lists meant for people.

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--wide`: tables at their natural width instead of fitting the terminal.
static WIDE: AtomicBool = AtomicBool::new(false);

/// Columns a table may use when standard output is not a terminal (a pipe, a file).
const DEFAULT_WIDTH: u16 = 100;

/// Sets `--wide` for the rest of the process.
pub fn set_wide(wide: bool) {
    WIDE.store(wide, Ordering::Relaxed);
}

/// Whether `--wide` was given.
pub fn wide() -> bool {
    WIDE.load(Ordering::Relaxed)
}

/// The width text may use: the terminal's, else 100 columns; unbounded with `--wide`.
pub fn text_width() -> usize {
    if wide() {
        return usize::MAX;
    }
    terminal_width().map_or(usize::from(DEFAULT_WIDTH), usize::from)
}

fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // comfy-table asks the terminal; a table with no content reports what it found.
    Table::new().width()
}
use tuneloop::model::{
    format_timestamp, Bucket, MetricsReport, ModelMetrics, ProblematicResponse, QualityFigures,
    TrendDirection, TrendReport,
};

/// `text` with every line that is wider than [`text_width`] wrapped at spaces; the
/// continuation lines are indented 4 columns past the line's own indentation. Lines without
/// a space to break at (a table's borders) are left as they are.
pub fn fit(text: &str) -> String {
    let width = text_width();
    if width == usize::MAX || text.lines().all(|l| l.chars().count() <= width) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        wrap_line(line, width, &mut out);
    }
    out
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    if line.chars().count() <= width {
        out.push_str(line);
        return;
    }
    let indent = line.len() - line.trim_start().len();
    let next_indent = " ".repeat((indent + 4).min(width / 2));
    let mut current = String::from(&line[..indent]);
    let mut current_len = indent;
    let mut first_word = true;
    for word in line[indent..].split(' ') {
        let len = word.chars().count();
        if !first_word && current_len + 1 + len > width {
            out.push_str(current.trim_end());
            out.push('\n');
            current = next_indent.clone();
            current_len = next_indent.len();
            first_word = true;
        }
        if !first_word {
            current.push(' ');
            current_len += 1;
        }
        current.push_str(word);
        current_len += len;
        first_word = false;
    }
    out.push_str(current.trim_end());
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn rate_with_ci(f: &QualityFigures) -> String {
    match (f.positive_rate, f.positive_rate_ci) {
        (Some(p), Some([lo, hi])) => {
            format!("{} ({:.1}–{:.1}%)", pct(p), lo * 100.0, hi * 100.0)
        }
        (Some(p), None) => pct(p),
        _ => "–".into(),
    }
}

fn average_rating(f: &QualityFigures) -> String {
    f.average_rating
        .map(|r| format!("{r:.2}"))
        .unwrap_or_else(|| "–".into())
}

/// The `n` most frequent categories as `name count, ...`.
pub fn top_categories(categories: &BTreeMap<String, u64>, n: usize) -> String {
    let mut v: Vec<(&String, &u64)> = categories.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = v
        .iter()
        .take(n)
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    if shown.is_empty() {
        "–".into()
    } else {
        shown.join(", ")
    }
}

/// A table that wraps its cells to fit the terminal (100 columns off a terminal), or keeps
/// its natural width with `--wide`.
pub fn new_table(headers: &[&str], right_aligned: &[usize]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_header(headers.to_vec());
    if wide() {
        table.set_content_arrangement(ContentArrangement::Disabled);
    } else {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(terminal_width().unwrap_or(DEFAULT_WIDTH));
    }
    for &i in right_aligned {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    // The first column names the row (a model, a day, a category): never broken.
    if let Some(col) = table.column_mut(0) {
        col.set_constraint(ColumnConstraint::ContentWidth);
    }
    table
}

/// One row per model.
pub fn metrics_table(report: &MetricsReport) -> String {
    let mut table = new_table(
        &[
            "Model",
            "Responses",
            "Feedback",
            "Pos/Neg/Neu",
            "Positive (95% CI)",
            "Avg",
            "Top categories",
        ],
        &[1, 2, 3, 4, 5],
    );
    for m in &report.models {
        let f = &m.figures;
        table.add_row(vec![
            m.model_id.clone(),
            thousands(f.responses),
            thousands(f.feedback),
            format!(
                "{}/{}/{}",
                thousands(f.positive),
                thousands(f.negative),
                thousands(f.neutral)
            ),
            rate_with_ci(f),
            average_rating(f),
            top_categories(&f.categories, 2),
        ]);
    }
    table.to_string()
}

/// The line saying that old responses were left out of a capped series, if any were.
pub fn omitted_note(omitted: u64, series: &str, cap: &str) -> Option<String> {
    (omitted > 0).then(|| {
        format!(
            "Note: {} older response{} left out of the {series}, which keeps the newest {cap} \
             ending at the newest data.",
            thousands(omitted),
            if omitted == 1 { " is" } else { "s are" }
        )
    })
}

/// The per-bucket figures of one model.
pub fn bucket_table(m: &ModelMetrics, bucket: Bucket) -> Option<String> {
    let buckets = m.buckets.as_ref()?;
    let label = match bucket {
        Bucket::Day => "Day",
        Bucket::Week => "Week of",
    };
    let mut table = new_table(
        &[
            label,
            "Responses",
            "Feedback",
            "Positive rate (95% CI)",
            "Negative rate",
            "Avg rating",
            "Top categories",
        ],
        &[1, 2, 3, 4, 5],
    );
    for b in buckets {
        let f = &b.figures;
        table.add_row(vec![
            b.start.format("%Y-%m-%d").to_string(),
            thousands(f.responses),
            thousands(f.feedback),
            rate_with_ci(f),
            f.negative_rate.map(pct).unwrap_or_else(|| "–".into()),
            average_rating(f),
            top_categories(&f.categories, 2),
        ]);
    }
    Some(table.to_string())
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of values in `[lo, hi]`; `None` values show as `·`.
pub fn sparkline(values: &[Option<f64>], lo: f64, hi: f64) -> String {
    values
        .iter()
        .map(|v| match v {
            None => '·',
            Some(x) => {
                let t = if hi > lo { (x - lo) / (hi - lo) } else { 0.5 };
                let i = (t * (BARS.len() - 1) as f64).round().clamp(0.0, 7.0) as usize;
                BARS[i]
            }
        })
        .collect()
}

/// Collapses whitespace and cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if max == usize::MAX {
        return flat;
    }
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// A numbered, readable list of problematic responses.
pub fn problematic_list(items: &[ProblematicResponse]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, p) in items.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. {} · {} · {}",
            i + 1,
            p.model_id,
            p.response_id,
            format_timestamp(&p.created_at)
        );
        let _ = writeln!(
            out,
            "    {} negative of {} feedback ({:.0} %, at least {:.0} % at 95 %) · score {:.2}{}",
            thousands(p.negative),
            thousands(p.feedback),
            p.negative_rate * 100.0,
            p.wilson_lower * 100.0,
            p.score,
            if p.categories.is_empty() {
                String::new()
            } else {
                format!(" · {}", top_categories(&p.categories, 3))
            }
        );
        // Lines fit the terminal: the 7 columns of indentation and label included.
        let room = text_width().saturating_sub(7).max(20);
        let _ = writeln!(out, "    Q: {}", truncate(&p.query, room));
        let _ = writeln!(out, "    A: {}", truncate(&p.response, room));
        for c in p.comments.iter().take(3) {
            let _ = writeln!(out, "    “{}”", truncate(c, room.saturating_sub(1)));
        }
        if p.comments.len() > 3 {
            let _ = writeln!(out, "    (+{} more comments)", p.comments.len() - 3);
        }
        out.push('\n');
    }
    out
}

/// Weeks shown in the sparkline of `trends_table`.
const TREND_WEEKS: usize = 12;

/// One row per category: direction, Sen's slope in percentage points per week, p-value, the
/// last weeks' rates as a sparkline (scaled per row) and the latest rate.
pub fn trends_table(report: &TrendReport) -> String {
    let mut table = new_table(
        &[
            "Category",
            "Trend",
            "Slope (pp/week)",
            "p-value",
            "Last weeks",
            "Latest rate",
            "Notes",
        ],
        &[2, 3, 5],
    );
    for t in &report.trends {
        let arrow = match t.direction {
            TrendDirection::Rising => "↑ rising",
            TrendDirection::Falling => "↓ falling",
            TrendDirection::Stable => "→ stable",
        };
        let recent = &t.weekly[t.weekly.len().saturating_sub(TREND_WEEKS)..];
        let rates: Vec<Option<f64>> = recent.iter().map(|w| Some(w.rate)).collect();
        let hi = recent.iter().map(|w| w.rate).fold(0.0, f64::max);
        let mut notes = Vec::new();
        if t.emerging {
            notes.push("emerging".to_string());
        }
        if let Some(cp) = &t.change_point {
            notes.push(format!("change {}", cp.week));
        }
        table.add_row(vec![
            t.category.clone(),
            arrow.to_string(),
            format!("{:+.2}", t.slope * 100.0),
            format_p(t.p_value),
            sparkline(&rates, 0.0, hi),
            t.weekly
                .last()
                .map(|w| pct(w.rate))
                .unwrap_or_else(|| "–".into()),
            if notes.is_empty() {
                "–".into()
            } else {
                notes.join(", ")
            },
        ]);
    }
    table.to_string()
}

/// A p-value with 3 decimals, or `<0.001`.
fn format_p(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// One credit account's figures as a one-row table.
pub fn balance_table(b: &tuneloop::service::Balance) -> String {
    let mut table = new_table(
        &["Account", "Granted", "Pending", "Posted", "Available"],
        &[1, 2, 3, 4],
    );
    table.add_row(vec![
        b.account.clone(),
        thousands(b.granted),
        thousands(b.pending),
        thousands(b.posted),
        thousands(b.available),
    ]);
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(truncate("a  b\nc", 10), "a b c");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
        assert_eq!(sparkline(&[Some(0.0), None, Some(1.0)], 0.0, 1.0), "▁·█");
        let mut out = String::new();
        wrap_line("  one two three four five", 12, &mut out);
        assert_eq!(out, "  one two\n      three\n      four\n      five");
        for line in out.lines() {
            assert!(line.chars().count() <= 12, "{line}");
        }
    }
}
