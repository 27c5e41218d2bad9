//! Several threads share one allocator through the `GlobalAlloc` adapter,
//! each running random allocations, reallocations and frees, and checking
//! that its blocks keep their fill patterns.

use std::alloc::{GlobalAlloc, Layout};

use malloc_core::{GlobalMalloc, Malloc};

use crate::fill;

/// Runs `threads` threads of `ops` random operations each on `heap`, then
/// checks the heap. The error names the thread and what went wrong.
pub fn threads<M: Malloc>(
    heap: &GlobalMalloc<M>,
    threads: usize,
    ops: usize,
) -> Result<(), String> {
    run_threads(heap, threads, |thread| worker(heap, thread, ops))
}

/// Runs `work(thread)` on `threads` threads at once, then checks the heap.
/// The error names the first thread that failed and what went wrong.
fn run_threads<M: Malloc>(
    heap: &GlobalMalloc<M>,
    threads: usize,
    work: impl Fn(usize) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let before = heap.0.stats().live_blocks;
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || work(thread)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|panic| {
                    Err(format!(
                        "the allocator panicked: {}",
                        crate::differential::panic_message(&*panic)
                    ))
                })
            })
            .collect()
    });
    for (thread, result) in results.into_iter().enumerate() {
        result.map_err(|problem| format!("thread {thread}: {problem}"))?;
    }
    heap.0.check().map_err(|e| {
        let mut map = String::new();
        let _ = heap.0.heap_map(&mut map);
        format!("after all threads finished: {e}\nheap map at the failure:\n{map}")
    })?;
    // Every thread freed every block it held. (Blocks, not bytes: the
    // system malloc's stats count the whole process's bytes.)
    let after = heap.0.stats().live_blocks;
    if after != before {
        return Err(format!(
            "every thread freed all its blocks, but stats() counts {after} live blocks (it \
             counted {before} before the threads started): blocks were lost on their way back \
             to the heap"
        ));
    }
    Ok(())
}

/// A block one thread holds.
struct Held {
    ptr: *mut u8,
    layout: Layout,
    id: usize,
}

/// At most this many blocks per thread, so that frees keep up.
const MOST_HELD: usize = 500;

/// Alignments a Rust program asks for; above 16 the adapter uses memalign.
const ALIGNMENTS: &[usize] = &[1, 2, 4, 8, 16, 1, 8, 16, 32, 64, 128, 256, 4096];

/// One thread's random work.
fn worker<M: Malloc>(heap: &GlobalMalloc<M>, thread: usize, ops: usize) -> Result<(), String> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9));
    let mut held: Vec<Held> = Vec::new();
    let mut next_id = thread << 40;
    for step in 0..ops {
        let roll = rng.below(100);
        if held.is_empty() || (roll < 45 && held.len() < MOST_HELD) {
            let layout = random_layout(&mut rng);
            let zeroed = rng.below(10) == 0;
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe {
                if zeroed {
                    heap.alloc_zeroed(layout)
                } else {
                    heap.alloc(layout)
                }
            };
            check_new(ptr, layout, step)?;
            if zeroed {
                // SAFETY: a fresh block of `layout.size()` bytes.
                unsafe { fill::check_zero(ptr, layout.size()) }
                    .map_err(|wrong| format!("alloc_zeroed at step {step}: {wrong}"))?;
            }
            // SAFETY: a fresh block of `layout.size()` bytes.
            unsafe { fill::fill(ptr, next_id, layout.size()) };
            held.push(Held {
                ptr,
                layout,
                id: next_id,
            });
            next_id += 1;
        } else if roll < 80 || held.len() >= MOST_HELD {
            let block = held.swap_remove(rng.below(held.len() as u64) as usize);
            verify(&block, step)?;
            // SAFETY: a live block allocated with this layout.
            unsafe { heap.dealloc(block.ptr, block.layout) };
        } else {
            let index = rng.below(held.len() as u64) as usize;
            let block = &mut held[index];
            verify(block, step)?;
            let new_size = random_size(&mut rng);
            // SAFETY: a live block allocated with this layout; `new_size`
            // is non-zero and small enough for a valid layout.
            let ptr = unsafe { heap.realloc(block.ptr, block.layout, new_size) };
            let layout = Layout::from_size_align(new_size, block.layout.align())
                .map_err(|e| e.to_string())?;
            check_new(ptr, layout, step)?;
            let kept = fill::sampled_prefix(block.layout.size(), new_size);
            (block.ptr, block.layout) = (ptr, layout);
            // SAFETY: the block has `new_size` bytes, more than `kept` covers.
            unsafe { fill::check(ptr, block.id, &kept) }
                .map_err(|wrong| format!("realloc lost data at step {step}: {wrong}"))?;
            // SAFETY: the block has `new_size` bytes.
            unsafe { fill::fill(ptr, block.id, new_size) };
        }
        if step % 1000 == 0 {
            for block in &held {
                // SAFETY: a live block of at least `layout.size()` bytes.
                unsafe { fill::check(block.ptr, block.id, &fill::edges(block.layout.size())) }
                    .map_err(|wrong| format!("at step {step}: {wrong}"))?;
            }
        }
    }
    for block in held {
        verify(&block, ops)?;
        // SAFETY: a live block allocated with this layout.
        unsafe { heap.dealloc(block.ptr, block.layout) };
    }
    Ok(())
}

/// A fresh pointer is non-null and aligned as its layout asks.
fn check_new(ptr: *mut u8, layout: Layout, step: usize) -> Result<(), String> {
    if ptr.is_null() {
        return Err(format!(
            "allocating {layout:?} returned null at step {step}"
        ));
    }
    if !(ptr as usize).is_multiple_of(layout.align()) {
        return Err(format!(
            "{ptr:p} for {layout:?} is misaligned at step {step}"
        ));
    }
    Ok(())
}

/// A held block still holds its pattern.
fn verify(block: &Held, step: usize) -> Result<(), String> {
    // SAFETY: a live block of `layout.size()` bytes.
    unsafe { fill::check(block.ptr, block.id, &fill::sampled(block.layout.size())) }
        .map_err(|wrong| format!("at step {step}: {wrong}"))
}

fn random_layout(rng: &mut Rng) -> Layout {
    let align = ALIGNMENTS[rng.below(ALIGNMENTS.len() as u64) as usize];
    let size = random_size(rng);
    Layout::from_size_align(size, align).expect("small sizes and powers of two make valid layouts")
}

/// Mostly small sizes, sometimes a few KiB, rarely a large block.
fn random_size(rng: &mut Rng) -> usize {
    let size = match rng.below(100) {
        0..=69 => 1 + rng.below(256),
        70..=96 => 257 + rng.below(4096),
        97..=98 => 4096 + rng.below(64 << 10),
        _ => 128 << 10 | rng.below(64 << 10),
    };
    size as usize
}

/// A small, fast random number generator (xorshift64*): the threads need
/// speed and reproducibility, not proptest's shrinking.
struct Rng(u64);

impl Rng {
    /// A number below `n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// The stress test: `threads` threads of `ops` operations each on `heap`,
/// lighter per operation than [`threads`] (blocks of 1 to 3000 bytes in 256
/// slots per thread, a mark checked at both ends), so that millions of
/// operations run in seconds. Then checks the heap.
pub fn stress<M: Malloc>(heap: &GlobalMalloc<M>, threads: usize, ops: usize) -> Result<(), String> {
    run_threads(heap, threads, |thread| stress_worker(heap, thread, ops))
}

/// One stress thread: each slot holds nothing or a block whose first and
/// last bytes hold the slot's mark.
fn stress_worker<M: Malloc>(
    heap: &GlobalMalloc<M>,
    thread: usize,
    ops: usize,
) -> Result<(), String> {
    const SLOTS: usize = 256;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (thread as u64 + 1));
    let mut slots: Vec<Option<(*mut u8, Layout)>> = vec![None; SLOTS];
    let mark = |slot: usize| (slot + thread) as u8;
    let marked = |ptr: *mut u8, size: usize, m: u8| {
        // SAFETY: `ptr` is a live block of at least `size` (> 0) bytes.
        unsafe { *ptr == m && *ptr.add(size - 1) == m }
    };
    for step in 0..ops {
        let slot = rng.below(SLOTS as u64) as usize;
        let size = 1 + rng.below(3000) as usize;
        match slots[slot] {
            Some((ptr, layout)) => {
                if !marked(ptr, layout.size(), mark(slot)) {
                    return Err(format!("step {step}: slot {slot} lost its mark"));
                }
                if rng.below(4) == 0 {
                    // SAFETY: a live block with this layout; `size` > 0.
                    let new = unsafe { heap.realloc(ptr, layout, size) };
                    let new_layout = Layout::from_size_align(size, layout.align()).expect("valid");
                    check_new(new, new_layout, step)?;
                    if !marked(new, size.min(layout.size()), mark(slot)) {
                        return Err(format!("step {step}: realloc lost slot {slot}'s data"));
                    }
                    // SAFETY: the new block has `size` bytes.
                    unsafe { new.write_bytes(mark(slot), size) };
                    slots[slot] = Some((new, new_layout));
                } else {
                    // SAFETY: a live block with this layout.
                    unsafe { heap.dealloc(ptr, layout) };
                    slots[slot] = None;
                }
            }
            None => {
                let align = [8, 16, 16, 64][rng.below(4) as usize];
                let layout = Layout::from_size_align(size, align).expect("valid");
                // SAFETY: a non-zero size.
                let ptr = unsafe { heap.alloc(layout) };
                check_new(ptr, layout, step)?;
                // SAFETY: a fresh block of `size` bytes.
                unsafe { ptr.write_bytes(mark(slot), size) };
                slots[slot] = Some((ptr, layout));
            }
        }
    }
    for (ptr, layout) in slots.into_iter().flatten() {
        // SAFETY: a live block with this layout.
        unsafe { heap.dealloc(ptr, layout) };
    }
    Ok(())
}
