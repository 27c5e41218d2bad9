//! Stage 9 as an `LD_PRELOAD` library: `libworkbook_stage9.so`.

preload::export!(9, stage9_threads::Threaded, stage9_threads::Threaded::new());
