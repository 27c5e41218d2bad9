//! "Predict, then check": run a short trace on a stage and look at its heap
//! map with the blocks still live.
//!
//! `cargo workbook replay` frees what a trace leaves live (it measures);
//! here nothing is freed before the map is drawn, so the learner sees the
//! heap exactly as the trace left it. `cargo workbook map` and the book's
//! generated answers both call [`heap_map_after`]; the heap explorer
//! ([`explore`](crate::explore)) looks at the heap after every op with
//! [`run`].

use malloc_core::Malloc;
use malloc_trace::{Op, Trace};

/// Runs `trace` on `heap` and returns its heap map, with every block the
/// trace did not free still live. Each block is filled with its id's byte,
/// as a program would write it. Errors name the op (counting from 1).
pub fn heap_map_after(heap: &dyn Malloc, trace: &Trace) -> Result<String, String> {
    run(heap, trace, |_| Ok(()))?;
    let mut map = String::new();
    heap.heap_map(&mut map)
        .map_err(|_| "writing the heap map failed".to_string())?;
    Ok(map)
}

/// Runs `trace` on `heap` as [`heap_map_after`] does, and calls `after`
/// with the op's index (from 0) after each op, once the heap check passed.
pub fn run(
    heap: &dyn Malloc,
    trace: &Trace,
    mut after: impl FnMut(usize) -> Result<(), String>,
) -> Result<(), String> {
    let mut blocks: Vec<*mut u8> = Vec::new();
    let slot = |blocks: &mut Vec<*mut u8>, id: usize| -> usize {
        if blocks.len() <= id {
            blocks.resize(id + 1, std::ptr::null_mut());
        }
        id
    };
    for (n, op) in trace.ops.iter().enumerate() {
        let fail = |what: &str| format!("op {} {what}", n + 1);
        let (id, p, size) = match *op {
            Op::Malloc { id, size } => (id, heap.malloc(size), size),
            Op::Calloc { id, count, size } => {
                (id, heap.calloc(count, size), count.saturating_mul(size))
            }
            Op::Memalign { id, align, size } => (id, heap.memalign(align, size), size),
            Op::Realloc { id, size } => {
                let old = id.map_or(std::ptr::null_mut(), |id| {
                    let i = slot(&mut blocks, id);
                    blocks[i]
                });
                // SAFETY: `old` is null or a live block of `heap` that this
                // trace allocated and has not freed.
                let p = unsafe { heap.realloc(old, size) };
                (id, p, size)
            }
            Op::Free { id } => {
                if let Some(id) = id {
                    let i = slot(&mut blocks, id);
                    let p = std::mem::replace(&mut blocks[i], std::ptr::null_mut());
                    if p.is_null() {
                        return Err(fail(&format!("frees id {id}, which holds no block")));
                    }
                    // SAFETY: a live block of `heap`, freed once (the slot
                    // is cleared).
                    unsafe { heap.free(p) };
                }
                heap.check().map_err(|e| fail(&e.to_string()))?;
                after(n)?;
                continue;
            }
        };
        if p.is_null() && size > 0 {
            return Err(fail(&format!(
                "got null from the allocator for {size} bytes (out of memory, or a request \
                 it refuses)"
            )));
        }
        if !p.is_null() {
            // SAFETY: a live block of at least `size` bytes.
            unsafe { p.write_bytes(id.unwrap_or(0) as u8, size) };
        }
        if let Some(id) = id {
            let i = slot(&mut blocks, id);
            blocks[i] = p;
        }
        heap.check().map_err(|e| fail(&e.to_string()))?;
        after(n)?;
    }
    Ok(())
}
