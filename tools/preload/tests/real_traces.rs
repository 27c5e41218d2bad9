//! The recorded traces of real programs (traces/real/*.rep) replay on every
//! stage without error, each stage on fresh simulated memory, as
//! `cargo workbook replay` does.

use std::path::Path;

use workbook_manifest::STAGES;

#[test]
fn real_traces_replay_on_every_stage() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../traces/real");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rep"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5, "expected the recorded traces in {dir:?}");
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        let trace = malloc_trace::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The recorder rewrites the header at exit: its counts are right.
        assert_eq!(trace.header_warnings(), Vec::<String>::new(), "{name}");
        for stage in STAGES.iter().map(|stage| stage.number) {
            let heap = all_stages::simulated(stage).expect("every stage of the manifest");
            let result = malloc_trace::replay(&*heap, &trace)
                .unwrap_or_else(|e| panic!("{name} on stage {stage}: {e}"));
            assert_eq!(result.failed, 0, "{name} on stage {stage}: requests failed");
            heap.check()
                .unwrap_or_else(|e| panic!("{name} on stage {stage}: {e}"));
            println!(
                "{name} on stage {stage}: {} ops, footprint peak {} KiB",
                result.ops,
                result.footprint_peak() / 1024
            );
        }
    }
}
