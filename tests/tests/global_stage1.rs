//! Stage 1 as the global allocator of this whole test program: everything
//! Rust allocates here (collections, strings, threads, the test harness
//! itself) goes through the bump allocator.

conformance::global_allocator_tests!(stage1_bump::Bump, stage1_bump::Bump::new());
