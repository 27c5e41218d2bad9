//! Stage 2 as an `LD_PRELOAD` library: `libworkbook_stage2.so`.

preload::export!(2, stage2_buckets::Buckets, stage2_buckets::Buckets::new());
