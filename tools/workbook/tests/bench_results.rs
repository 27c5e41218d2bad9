//! The benchmark results committed in the book (made by
//! `cargo workbook bench --book`) parse and name every stage of the
//! manifest: a new stage needs its results measured.

use std::path::Path;

use serde_json::Value;
use workbook_manifest::STAGES;

fn bench_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../book/src/bench"))
}

#[test]
fn committed_results_parse_and_name_every_stage() {
    let path = bench_dir().join("results.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo workbook bench --book`", path.display()));
    let results: Value = serde_json::from_str(&text).expect("results.json is JSON");

    let keys: Vec<&str> = results["allocators"]
        .as_array()
        .expect("a list of allocators")
        .iter()
        .filter_map(|a| a["key"].as_str())
        .collect();
    let mut expected = vec!["system".to_string(), "mimalloc".to_string()];
    expected.extend(STAGES.iter().map(|stage| format!("stage{}", stage.number)));
    for key in &expected {
        assert!(
            keys.contains(&key.as_str()),
            "book/src/bench/results.json does not name {key}: measure it again with \
             `cargo workbook bench --book`"
        );
    }

    let workloads = results["workloads"]
        .as_array()
        .expect("a list of workloads");
    assert!(!workloads.is_empty());
    for workload in workloads {
        let name = workload["name"].as_str().expect("a workload name");
        let about = workload["about"].as_str().unwrap_or("");
        assert!(!about.is_empty(), "{name} is explained");
        let rows: Vec<&str> = workload["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["allocator"].as_str())
            .collect();
        for key in &expected {
            assert!(rows.contains(&key.as_str()), "{name} has no row for {key}");
        }
        // Every time is a ratio to glibc, so glibc's own is 1.
        let glibc = workload["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["allocator"] == "system")
            .unwrap();
        let ratio = glibc["ratio"].as_f64().expect("glibc has a time");
        assert!(
            (ratio - 1.0).abs() < 1e-9,
            "{name}: glibc's ratio is {ratio}"
        );
    }
    assert!(
        results["command"]
            .as_str()
            .unwrap()
            .starts_with("cargo workbook bench")
    );
    assert!(results["machine"]["cpu"].is_string());

    let page = std::fs::read_to_string(bench_dir().join("results.md")).expect("results.md");
    for stage in STAGES {
        assert!(
            page.contains(&stage.label()),
            "book/src/bench/results.md does not name {}: measure again with \
             `cargo workbook bench --book`",
            stage.label()
        );
    }
    for chart in ["time.svg", "utilization.svg"] {
        assert!(page.contains(chart), "results.md shows {chart}");
        let svg = std::fs::read_to_string(bench_dir().join(chart)).expect("the chart exists");
        assert!(svg.contains("<svg"), "{chart} is an SVG");
    }
}
