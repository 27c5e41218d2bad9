//! What every tool checks in a trace before it runs it, the same way: the
//! ops must make sense as a program, whatever allocator runs them.
//!
//! - an id is allocated (`a`, `c`, `m`) only when it holds no block (a
//!   program that overwrote a live pointer would leak it);
//! - an id is freed (`f`) only when it holds one (a double free);
//! - a `memalign`'s alignment is a power of two (anything else is refused
//!   by every allocator, and says nothing about the heap).
//!
//! `r` is always allowed: of an id that holds no block it is a `malloc`.
//! After `r ID 0` the id holds a null pointer, which may be freed. This is
//! what [`replay`](crate::replay()) follows; `cargo workbook map` and
//! `replay` both call [`validate`] first, so they accept and refuse the
//! same traces, with the same words.

use std::fmt;

use crate::{Op, Trace};

/// An op that makes no sense: which one, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    /// The op's number, counting from 1.
    pub op: usize,
    /// What is wrong, e.g. "frees id 3, which holds no block".
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {} {}", self.op, self.message)
    }
}

impl std::error::Error for TraceError {}

/// Checks `trace` as a program; the error names the first op that makes
/// no sense.
pub fn validate(trace: &Trace) -> Result<(), TraceError> {
    let ids = trace
        .ops
        .iter()
        .filter_map(Op::id)
        .max()
        .map_or(0, |id| id + 1);
    let mut held = vec![false; ids];
    for (at, op) in trace.ops.iter().enumerate() {
        let fail = |message: String| TraceError {
            op: at + 1,
            message,
        };
        match *op {
            Op::Malloc { id, .. } | Op::Calloc { id, .. } | Op::Memalign { id, .. } => {
                if let Op::Memalign { align, .. } = *op
                    && !align.is_power_of_two()
                {
                    return Err(fail(format!(
                        "asks memalign for an alignment of {align}, which is not a power of two"
                    )));
                }
                if let Some(id) = id {
                    if held[id] {
                        return Err(fail(format!(
                            "allocates id {id}, which still holds a block (a trace frees an id \
                             before it reuses it)"
                        )));
                    }
                    held[id] = true;
                }
            }
            Op::Realloc { id, .. } => {
                if let Some(id) = id {
                    held[id] = true;
                }
            }
            Op::Free { id } => {
                if let Some(id) = id {
                    if !held[id] {
                        return Err(fail(format!("frees id {id}, which holds no block")));
                    }
                    held[id] = false;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn check(ops: &str) -> Result<(), TraceError> {
        validate(&parse(&format!("0\n3\n0\n1\n{ops}")).unwrap())
    }

    #[test]
    fn a_sound_trace_passes() {
        assert_eq!(
            check("a 0 16\nr 0 32\nr 1 8\nf 0\nf 1\nr 2 0\nf 2\nf -1\n"),
            Ok(())
        );
        assert_eq!(check("m 0 64 10\nc 1 2 8\nf 0\nf 1\na 0 1\n"), Ok(()));
    }

    #[test]
    fn the_first_op_that_makes_no_sense_is_named() {
        assert_eq!(
            check("a 0 16\na 0 16\n").unwrap_err().to_string(),
            "op 2 allocates id 0, which still holds a block (a trace frees an id before it \
             reuses it)"
        );
        assert_eq!(
            check("a 0 16\nf 0\nf 0\n").unwrap_err().to_string(),
            "op 3 frees id 0, which holds no block"
        );
        assert_eq!(
            check("m 0 3 16\n").unwrap_err().to_string(),
            "op 1 asks memalign for an alignment of 3, which is not a power of two"
        );
    }
}
