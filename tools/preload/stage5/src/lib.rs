//! Stage 5 as an `LD_PRELOAD` library: `libworkbook_stage5.so`.

preload::export!(5, stage5_mmap::Mmap, stage5_mmap::Mmap::new());
