//! Stage 6 as an `LD_PRELOAD` library: `libworkbook_stage6.so`.

preload::export!(6, stage6_tuned::Tuned, stage6_tuned::Tuned::new());
