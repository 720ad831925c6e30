//! Mann-Kendall and Sen's slope against pymannkendall (tests/vectors/gen_mann_kendall.py):
//! every figure within 1e-9, and the same direction at α = 0.05.

use serde::Deserialize;
use std::path::PathBuf;
use tuneloop::analysis::trend::mann_kendall;
use tuneloop::model::TrendDirection;

#[derive(Deserialize)]
struct Doc {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    series: Vec<f64>,
    trend: String,
    s: f64,
    var_s: f64,
    z: f64,
    p: f64,
    tau: f64,
    slope: f64,
    intercept: f64,
}

#[test]
fn matches_pymannkendall() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/mann_kendall.json");
    let doc: Doc = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc.cases.len() >= 20);
    let mut worst = 0.0_f64;
    for c in &doc.cases {
        let r = mann_kendall(&c.series);
        let pairs = [
            ("s", r.s, c.s),
            ("var_s", r.var_s, c.var_s),
            ("z", r.z, c.z),
            ("p", r.p_value, c.p),
            ("tau", r.tau, c.tau),
            ("slope", r.slope, c.slope),
            ("intercept", r.intercept, c.intercept),
        ];
        for (field, ours, peer) in pairs {
            worst = worst.max((ours - peer).abs());
            assert!(
                (ours - peer).abs() <= 1e-9,
                "{} {field}: tuneloop {ours:e}, pymannkendall {peer:e}",
                c.name
            );
        }
        let expected = match c.trend.as_str() {
            "increasing" => TrendDirection::Rising,
            "decreasing" => TrendDirection::Falling,
            _ => TrendDirection::Stable,
        };
        assert_eq!(r.direction, expected, "{}", c.name);
    }
    eprintln!("largest difference from pymannkendall: {worst:e}");
}
