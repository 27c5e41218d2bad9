//! Stage 1 as an `LD_PRELOAD` library: `libworkbook_stage1.so`.

preload::export!(1, stage1_bump::Bump, stage1_bump::Bump::new());
