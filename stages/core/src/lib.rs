//! The shared core of the malloc workbook.
//!
//! Every stage of the course implements one trait, [`Malloc`], with the C
//! semantics of `malloc`, `free`, `realloc`, `calloc` and `memalign`. This
//! crate holds that trait and everything the stages share, so that a stage
//! crate contains only its own idea.
//!
//! # Glossary
//!
//! - **break**: the end of the process's data segment; `sbrk(n)` moves it up
//!   by `n` bytes and returns the old end. Memory below it is ours to use.
//! - **source**: where a heap gets its memory ([`Break`]): the real program
//!   break ([`RealBreak`]) or a simulated one ([`SimBreak`]).
//! - **block**: what `malloc` hands out: a header the allocator keeps, then the
//!   payload the caller sees.
//! - **payload**: the bytes the caller may use; always [`ALIGN`]-aligned.
//! - **footprint**: bytes taken from the OS (break plus mappings).
//! - **live bytes**: bytes the program asked for and has not freed yet.
//! - **utilization**: peak live bytes / peak footprint (the malloc lab's U).
//!
//! # Map
//!
//! - [`malloc`](mod@malloc): the trait, its default methods and [`HeapError`].
//! - [`heap_map`]: drawing heap maps as text.
//! - [`os`]: every system call the workbook makes, and nothing else.
//! - [`source`]: the real and the simulated break.
//! - [`pages`]: mapped pages for large blocks, real and simulated.
//! - [`policy`]: the fit, list order and merging a stage can switch.
//! - [`stats`]: counters every stage keeps.
//! - [`lock`]: a lock that never allocates and sleeps when it must wait.
//! - [`global`]: the adapter that makes any stage a `#[global_allocator]`.
//! - [`system`]: the system malloc behind the same trait, for comparison.

#![no_std]

pub mod global;
pub mod heap_map;
pub mod lock;
pub mod malloc;
pub mod os;
pub mod pages;
pub mod policy;
pub mod source;
pub mod stats;
pub mod system;

pub use global::GlobalMalloc;
pub use heap_map::{Line, MapWriter, Offset};
pub use lock::{Lock, LockGuard};
pub use malloc::{ALIGN, HeapError, MAX_REQUEST, Malloc, align_up, assert_sound, too_large};
pub use pages::{Pages, RealPages, SimPages};
pub use policy::{Choices, Fit, Order, Policy};
pub use source::{Break, RealBreak, SimBreak, SourceStats};
pub use stats::{Stats, Tally};
pub use system::SystemMalloc;
