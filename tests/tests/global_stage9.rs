//! Stage 9 as the global allocator of this whole test program: everything
//! Rust allocates here goes through the threaded allocator, thread caches
//! included.

conformance::global_allocator_tests!(stage9_threads::Threaded, stage9_threads::Threaded::new());
