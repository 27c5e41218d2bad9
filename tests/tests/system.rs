//! The suite run on the system malloc itself: it is the reference, so it
//! must pass. A failure here is a bug in the suite, not in an allocator.

conformance::suite!(
    #[cfg_attr(miri, ignore = "Miri's own malloc has no malloc_usable_size")]
    system,
    || malloc_core::SystemMalloc
);
