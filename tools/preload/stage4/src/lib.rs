//! Stage 4 as an `LD_PRELOAD` library: `libworkbook_stage4.so`.

preload::export!(4, stage4_split::Split, stage4_split::Split::new());
