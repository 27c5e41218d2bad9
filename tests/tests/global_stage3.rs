//! Stage 3 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the free-list allocator.

conformance::global_allocator_tests!(
    stage3_freelist::FreeLists,
    stage3_freelist::FreeLists::new()
);
