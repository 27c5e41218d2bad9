//! Stage 2 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the buckets allocator.

conformance::global_allocator_tests!(stage2_buckets::Buckets, stage2_buckets::Buckets::new());
