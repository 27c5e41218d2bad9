//! Stage 4 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the splitting allocator.

conformance::global_allocator_tests!(stage4_split::Split, stage4_split::Split::new());
