//! Stage 5 as the global allocator of this whole test program: everything
//! Rust allocates here goes through stage 5, large blocks mapped alone.

conformance::global_allocator_tests!(stage5_mmap::Mmap, stage5_mmap::Mmap::new());
