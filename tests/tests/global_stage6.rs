//! Stage 6 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the tuned allocator.

conformance::global_allocator_tests!(stage6_tuned::Tuned, stage6_tuned::Tuned::new());
