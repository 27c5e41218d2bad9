//! Benchmark helpers shared by `cargo workbook bench` and the criterion
//! micro-benchmarks (`cargo bench -p workbook-bench`).
//!
//! The one thing here is [`Mimalloc`]: mimalloc, a fast modern allocator,
//! behind the course's [`Malloc`](malloc_core::Malloc) trait, so that every
//! stage can be measured against it as well as against the system malloc.

mod mimalloc;

pub use mimalloc::Mimalloc;
