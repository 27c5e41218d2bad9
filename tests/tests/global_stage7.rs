//! Stage 7 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the merging allocator.

conformance::global_allocator_tests!(stage7_merge::Merge, stage7_merge::Merge::new());
