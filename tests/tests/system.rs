//! The suite run on the system malloc itself: it is the reference, so it
//! must pass. A failure here is a bug in the suite, not in an allocator.

conformance::suite!(system, || malloc_core::SystemMalloc);
