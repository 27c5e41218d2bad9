//! Stage 7 as an `LD_PRELOAD` library: `libworkbook_stage7.so`.

preload::export!(7, stage7_merge::Merge, stage7_merge::Merge::new());
