//! Allocation traces in the malloc lab's `.rep` format: read, write, replay.
//!
//! A trace is a list of allocation requests with ids instead of pointers, so
//! that the same program of mallocs and frees can be run on any allocator:
//!
//! ```text
//! 0        <- suggested heap size (or a weight, in some variants)
//! 2        <- number of ids
//! 4        <- number of ops
//! 1        <- weight (or a flag, in some variants)
//! a 0 512  <- block 0 = malloc(512)
//! a 1 128  <- block 1 = malloc(128)
//! r 0 640  <- block 0 = realloc(block 0, 640)
//! f 1      <- free(block 1)
//! ```
//!
//! - [`format`](mod@format): the [`Trace`] type, [`parse`] and the writer ([`Display`]).
//! - [`replay`](mod@replay): runs a trace on any [`Malloc`](malloc_core::Malloc)
//!   and measures it.
//! - [`validate`](mod@validate): what every tool checks in a trace before it
//!   runs it.
//!
//! [`Display`]: std::fmt::Display

pub mod format;
pub mod replay;
pub mod validate;

pub use format::{Header, Op, ParseError, Trace, parse};
pub use replay::{MemorySample, Pass, Replay, ReplayError, replay, replay_pass};
pub use validate::{TraceError, validate};
