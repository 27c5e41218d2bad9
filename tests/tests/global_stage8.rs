//! Stage 8 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the hardened allocator.

conformance::global_allocator_tests!(stage8_hardened::Hardened, stage8_hardened::Hardened::new());
