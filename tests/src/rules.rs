//! Each stage's own rules, seen from outside: what the book promises about
//! a stage that the C contract does not say, checked through the `Malloc`
//! trait and its stats only (never the heap's layout), so that any correct
//! solution of an exercise keeps them:
//!
//! - every stage gives `malloc(0)` a block with at least one usable byte
//!   (the stages round 0 up to 16; glibc gives 24): a block of no bytes
//!   has the address of whatever lies next, often the next block's header
//!   (stage 8's debug mode is the exception, with guard bytes there);
//! - stages 2 to 6 round a small request up to the smallest of the classes
//!   16, 64, 256 and 1024;
//! - from stage 5 on, a request of at least 128 KiB (glibc's default mmap
//!   threshold) gets a mapping of its own, and one byte less does not;
//! - from stage 6 on, the threshold rises with freed mappings but never past
//!   32 MiB (glibc's ceiling), trimming keeps the top pad (the next request
//!   at the top needs no system call), and it gives back the top of the
//!   break only: never the top of a region mapped because the break was
//!   full;
//! - stage 9 keeps stage 8's hardening: each misuse stops the program
//!   (stage 8's lesson checks it there); and blocks that one thread frees
//!   go back to the heap in time to serve another thread's mallocs.

use malloc_core::{Malloc, SimBreak, SimPages};

use crate::exercise::{Sources, record_of};

/// The classes of stages 2 to 6.
const CLASSES: [usize; 4] = [16, 64, 256, 1024];
/// glibc's default mmap threshold, stage 5's fixed one, stage 6's start.
const MMAP_THRESHOLD: usize = 128 * 1024;
/// glibc's ceiling for the dynamic threshold.
const MMAP_THRESHOLD_MAX: usize = 32 << 20;

/// Checks stage `stage`'s rules on allocators from `make`.
pub fn rules<M: Malloc>(stage: u32, make: fn(Sources) -> M) -> Result<(), String> {
    malloc_zero_owns_a_byte(stage, &make(Sources::new()))?;
    if (2..=6).contains(&stage) {
        size_classes(stage, &make(Sources::new()))?;
    }
    if stage >= 5 {
        large_requests_are_mapped(stage, &make(Sources::new()))?;
    }
    if stage >= 6 {
        threshold_has_a_ceiling(stage, &make(Sources::new()))?;
        trim_keeps_the_top_pad(stage, &make(Sources::new()))?;
        trim_keeps_to_the_break(stage, make)?;
    }
    if stage >= 9 {
        crate::lessons::misuse_is_stopped(|| make(Sources::new())).map_err(|figures| {
            format!(
                "stage {stage} keeps stage 8's hardening, but not every misuse stops the \
                 program: {figures}"
            )
        })?;
        frees_of_another_thread_come_back(stage, &make(Sources::new()))?;
    }
    Ok(())
}

/// A producer thread allocates 64-byte blocks, a consumer thread frees
/// them, 100 rounds of 1000: at most 1000 are live at once, so the
/// footprint stays far under a MiB when the consumer's frees go back to
/// the heap (a cache that keeps every block would hold all 100,000).
fn frees_of_another_thread_come_back<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    struct Blocks(Vec<*mut u8>);
    // SAFETY: the pointers are only freed, by the one thread that gets them.
    unsafe impl Send for Blocks {}
    let (send, receive) = std::sync::mpsc::sync_channel::<Blocks>(1);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            for blocks in receive {
                for p in blocks.0 {
                    // SAFETY: a live block of `heap`, freed once.
                    unsafe { heap.free(p) };
                }
            }
        });
        for _ in 0..100 {
            let blocks: Vec<*mut u8> = (0..1000).map(|_| heap.malloc(64)).collect();
            if blocks.iter().any(|p| p.is_null()) {
                return Err("malloc(64) returned NULL".to_string());
            }
            send.send(Blocks(blocks))
                .map_err(|_| "the consumer thread stopped".to_string())?;
        }
        drop(send);
        Ok(())
    });
    result?;
    let footprint = heap.stats().footprint_peak;
    if footprint > 1 << 20 {
        return Err(format!(
            "a producer thread allocated 100 rounds of 1000 × 64 bytes, which another thread \
             frees, and the footprint reached {footprint} bytes: the blocks another thread frees \
             must go back to the heap (a full cache gives half back) to serve the next mallocs, \
             or the heap grows without end (stage {stage})"
        ));
    }
    Ok(())
}

/// `malloc(0)` gets a block of its own with at least one usable byte, and
/// writing that byte disturbs nothing.
fn malloc_zero_owns_a_byte<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    let a = heap.malloc(0);
    let b = heap.malloc(0);
    if a.is_null() || b.is_null() {
        return Err("malloc(0) returned NULL".into());
    }
    for p in [a, b] {
        // SAFETY: a live block of `heap`.
        let usable = unsafe { heap.usable_size(p) };
        if usable == 0 {
            return Err(format!(
                "usable_size(malloc(0)) is 0: the block at {p:p} owns no byte, so its pointer \
                 is the address of whatever lies next in the heap, often the next block's \
                 header; the stages round a request of 0 up to 16 bytes (glibc gives 24) \
                 (stage {stage})"
            ));
        }
    }
    // SAFETY: live blocks of `heap` with at least one usable byte each.
    unsafe {
        a.write(0xa0);
        b.write(0xb0);
    }
    heap.check().map_err(|e| {
        let mut map = String::new();
        let _ = heap.heap_map(&mut map);
        format!(
            "after writing one byte into each of two malloc(0) blocks, check() says: {e}\n\
             heap map at the failure:\n{map}"
        )
    })?;
    // SAFETY: live blocks of `heap`, freed once.
    unsafe {
        heap.free(a);
        heap.free(b);
    }
    Ok(())
}

/// A request of at most 1024 bytes gets exactly the smallest class that
/// holds it: `usable_size` says which.
fn size_classes<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    for size in [0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1023, 1024] {
        let class = CLASSES
            .into_iter()
            .find(|&class| size <= class)
            .expect("a small size");
        let p = heap.malloc(size);
        if p.is_null() {
            return Err(format!("malloc({size}) returned NULL"));
        }
        // SAFETY: a live block of `heap`, freed once.
        let usable = unsafe {
            let usable = heap.usable_size(p);
            heap.free(p);
            usable
        };
        if usable != class {
            return Err(format!(
                "malloc({size}) got a block of {usable} usable bytes: stage {stage} rounds a \
                 request up to the smallest class that holds it, here {class} (the classes \
                 are {CLASSES:?})"
            ));
        }
    }
    Ok(())
}

/// A request of at least 128 KiB is mapped; one byte less is not.
fn large_requests_are_mapped<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    for (size, mapped) in [(MMAP_THRESHOLD - 1, false), (MMAP_THRESHOLD, true)] {
        let before = heap.stats().mmap_calls;
        let p = heap.malloc(size);
        if p.is_null() {
            return Err(format!("malloc({size}) returned NULL"));
        }
        let maps = heap.stats().mmap_calls - before;
        // SAFETY: a live block of `heap`, freed once.
        unsafe { heap.free(p) };
        if (maps > 0) != mapped {
            return Err(format!(
                "malloc({size}) made {maps} mmap calls: from stage 5 on, a request of at \
                 least 128 KiB ({MMAP_THRESHOLD} bytes, glibc's default threshold) gets a \
                 mapping of its own, and a smaller one comes from the heap (stage {stage})"
            ));
        }
    }
    Ok(())
}

/// Freeing a 64 MiB mapped block leaves the threshold at most 32 MiB: a
/// 40 MiB request is still mapped.
fn threshold_has_a_ceiling<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    let huge = heap.malloc(64 << 20);
    if huge.is_null() {
        return Err("malloc(64 MiB) returned NULL".into());
    }
    // SAFETY: a live block of `heap`, freed once.
    unsafe { heap.free(huge) };
    let before = heap.stats().mmap_calls;
    let p = heap.malloc(40 << 20);
    if p.is_null() {
        return Err("malloc(40 MiB) returned NULL".into());
    }
    let maps = heap.stats().mmap_calls - before;
    // SAFETY: a live block of `heap`, freed once.
    unsafe { heap.free(p) };
    if maps == 0 {
        return Err(format!(
            "after free() of a 64 MiB mapped block, malloc(40 MiB) came from the heap: the \
             dynamic threshold rises to a freed mapping's length only up to 32 MiB \
             ({MMAP_THRESHOLD_MAX} bytes, glibc's ceiling), so 40 MiB must still be mapped \
             (stage {stage})"
        ));
    }
    Ok(())
}

/// A buffer grown at the top to 4 MiB and freed goes back to the OS, but
/// the top pad stays: a 64 KiB request right after needs no system call.
fn trim_keeps_the_top_pad<M: Malloc>(stage: u32, heap: &M) -> Result<(), String> {
    let first = heap.malloc(100);
    let mut buffer = heap.malloc(1024);
    let mut size = 1024;
    while size < 4 << 20 && !buffer.is_null() {
        size *= 2;
        // SAFETY: a live block of `heap` (or null: realloc of null is malloc).
        buffer = unsafe { heap.realloc(buffer, size) };
    }
    if first.is_null() || buffer.is_null() {
        return Err(format!("growing a buffer to {size} bytes failed"));
    }
    // SAFETY: a live block of `heap`, freed once.
    unsafe { heap.free(buffer) };
    let before = heap.stats();
    let p = heap.malloc(64 * 1024);
    let after = heap.stats();
    // SAFETY: live blocks of `heap`, freed once.
    unsafe {
        heap.free(p);
        heap.free(first);
    }
    let calls = after.syscalls() - before.syscalls();
    if p.is_null() || calls > 0 {
        return Err(format!(
            "after a 4 MiB buffer at the top was freed and trimmed (the break is \
             {} bytes), malloc(64 KiB) made {calls} system calls: trimming keeps the top pad \
             (128 KiB, glibc's M_TOP_PAD) so that the next requests at the top need none \
             (stage {stage})",
            before.heap_bytes
        ));
    }
    Ok(())
}

/// With the break full, the heap goes on in a mapped region; freeing a
/// big block at that region's top must not shrink the break, which holds
/// other live blocks.
fn trim_keeps_to_the_break<M: Malloc>(stage: u32, make: fn(Sources) -> M) -> Result<(), String> {
    let sources = Sources::from_parts(SimBreak::with_limit(256 * 1024), SimPages::new());
    let record = record_of(&sources);
    let heap = make(sources);
    let mut live = Vec::new();
    // 100 blocks of 4000 bytes: more than the break can hold.
    for _ in 0..100 {
        let p = heap.malloc(4000);
        if p.is_null() {
            return Err("malloc(4000) returned NULL with pages to map".into());
        }
        live.push(p);
    }
    let mapped_regions = heap.stats().mmap_calls;
    let big = heap.malloc(120_000);
    if big.is_null() {
        return Err("malloc(120000) returned NULL with pages to map".into());
    }
    let brk_before = heap.stats().heap_bytes;
    // SAFETY: a live block of `heap`, freed once.
    unsafe { heap.free(big) };
    let brk_after = heap.stats().heap_bytes;
    let lost = live
        .iter()
        .filter(|&&p| !record.holds(p as usize, 4000))
        .count();
    for p in live {
        // SAFETY: live blocks of `heap`, freed once.
        unsafe { heap.free(p) };
    }
    if lost > 0 || brk_after < brk_before {
        return Err(format!(
            "the break was full, so the heap went on in {mapped_regions} mapped region(s); \
             free() of a 120,000-byte block at the top of a mapped region shrank the break \
             from {brk_before} to {brk_after} bytes, and {lost} live blocks are no longer in \
             the allocator's memory: trim gives back the top of the break only, never the \
             top of a mapped region (stage {stage})"
        ));
    }
    Ok(())
}
