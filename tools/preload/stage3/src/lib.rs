//! Stage 3 as an `LD_PRELOAD` library: `libworkbook_stage3.so`.

preload::export!(
    3,
    stage3_freelist::FreeLists,
    stage3_freelist::FreeLists::new()
);
