//! The lessons: each stage's one idea, as a check that the stage passes and
//! the stage before it fails, with the numbers that show the difference.
//!
//! Every lesson returns `Ok(figures)` or `Err(figures)`: the same words
//! either way, so a test can print why a stage passed or failed.

use malloc_core::Malloc;

/// Stage 2 over stage 1: a `realloc` that grows inside a size class moves
/// no data. Stage 1 has no classes, so growing a block that is not the most
/// recent one moves it.
pub fn realloc_inside_a_class<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let block = heap.malloc(17);
    let neighbour = heap.malloc(17); // so `block` is not the most recent
    // SAFETY: `block` and `neighbour` are live blocks of `heap`.
    let (usable, grown) = unsafe {
        let usable = heap.usable_size(block);
        block.write_bytes(0x5a, 17);
        let grown = heap.realloc(block, 60);
        (usable, grown)
    };
    // SAFETY: `grown` is live with at least 60 bytes; both are freed once.
    let kept = unsafe { *grown.add(16) == 0x5a };
    let figures = format!(
        "usable_size(malloc(17)) = {usable}; realloc to 60 bytes {} (data kept: {kept})",
        if grown == block {
            "stayed in place"
        } else {
            "moved the block"
        }
    );
    // SAFETY: live blocks of `heap`, freed once.
    unsafe {
        heap.free(grown);
        heap.free(neighbour);
    }
    if grown == block && kept {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 3 over stage 2: a churn of `pairs` malloc/free pairs of mixed
/// small sizes keeps the footprint flat: freed blocks are used again.
pub fn churn_keeps_footprint_flat<M: Malloc + ?Sized>(
    heap: &M,
    pairs: usize,
) -> Result<String, String> {
    let sizes = [16, 24, 40, 64, 100, 200, 256, 500, 1000, 1024];
    let mut footprint_after_warmup = 0;
    for i in 0..pairs {
        let p = heap.malloc(sizes[i % sizes.len()]);
        if p.is_null() {
            return Err(format!("malloc failed after {i} pairs"));
        }
        // SAFETY: `p` is a live block of `heap`.
        unsafe { heap.free(p) };
        if i == 1000 {
            footprint_after_warmup = heap.stats().footprint();
        }
    }
    let footprint = heap.stats().footprint();
    let figures = format!(
        "footprint after 1000 pairs: {footprint_after_warmup} bytes; after {pairs} pairs: {footprint} bytes"
    );
    // Flat: no more than a little above where it stood after the warm-up.
    if footprint <= footprint_after_warmup + 256 * 1024 {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 4 over stage 3: after 10,000 blocks of 1024 bytes are freed,
/// 40,000 blocks of 64 bytes fit in that memory: no new memory from the OS.
pub fn phase_change_takes_no_new_memory<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let big: Vec<_> = (0..10_000).map(|_| heap.malloc(1024)).collect();
    if big.iter().any(|p| p.is_null()) {
        return Err("malloc(1024) failed".into());
    }
    for &p in &big {
        // SAFETY: live blocks of `heap`, freed once.
        unsafe { heap.free(p) };
    }
    let before = heap.stats().footprint();
    let small: Vec<_> = (0..40_000).map(|_| heap.malloc(64)).collect();
    let after = heap.stats().footprint();
    for &p in &small {
        // SAFETY: live blocks of `heap` (or null), freed once.
        unsafe { heap.free(p) };
    }
    let figures = format!(
        "footprint after freeing 10,000 × 1024: {before} bytes; after 40,000 × 64: {after} bytes (+{})",
        after - before
    );
    if after <= before {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 5 over stage 4: a freed 10 MiB block leaves the footprint.
pub fn big_block_goes_back<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let small = heap.malloc(100);
    let before = heap.stats().footprint();
    let big = heap.malloc(10 << 20);
    if big.is_null() {
        return Err("malloc(10 MiB) failed".into());
    }
    let during = heap.stats().footprint();
    // SAFETY: live blocks of `heap`, freed once.
    unsafe {
        heap.free(big);
        heap.free(small);
    }
    let after = heap.stats().footprint();
    let figures = format!(
        "footprint before: {before} bytes; with 10 MiB: {during}; after free: {after} (+{})",
        after.saturating_sub(before)
    );
    if after <= before {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 6 over stage 5: `rounds` rounds of malloc+free of 256 KiB. A fixed
/// threshold maps and unmaps every round; a dynamic one maps once and then
/// reuses heap memory.
pub fn no_syscall_storm<M: Malloc + ?Sized>(heap: &M, rounds: usize) -> Result<String, String> {
    let before = heap.stats().syscalls();
    for _ in 0..rounds {
        let p = heap.malloc(256 << 10);
        if p.is_null() {
            return Err("malloc(256 KiB) failed".into());
        }
        // SAFETY: `p` is a live block of `heap`; touching it is what real
        // programs do (and what makes a fresh mapping cost page faults).
        unsafe {
            p.write(1);
            heap.free(p);
        }
    }
    let calls = heap.stats().syscalls() - before;
    let figures = format!("{rounds} rounds of malloc+free of 256 KiB made {calls} system calls");
    if calls <= 8 {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 6 over stage 5: a buffer grown by `realloc` at the top of the heap
/// to 4 MiB, then freed, goes back to the OS: the free top passes the trim
/// threshold. A heap that never shrinks keeps it.
pub fn grown_buffer_is_trimmed<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let first = heap.malloc(100);
    let before = heap.stats().heap_bytes;
    let mut buffer = heap.malloc(1024);
    let mut size = 1024;
    while size < 4 << 20 {
        size *= 2;
        // SAFETY: `buffer` is a live block of `heap` (or null: realloc of
        // null is malloc).
        buffer = unsafe { heap.realloc(buffer, size) };
        if buffer.is_null() {
            return Err(format!("realloc to {size} bytes failed"));
        }
    }
    let peak = heap.stats().heap_bytes;
    // SAFETY: live blocks of `heap`, freed once.
    unsafe {
        heap.free(buffer);
        heap.free(first);
    }
    let after = heap.stats().heap_bytes;
    let figures = format!(
        "heap before: {before} bytes; with the buffer grown to 4 MiB: {peak}; after its free: {after}"
    );
    // Back to within 256 KiB of where it started (the top pad stays).
    if after <= before + 256 * 1024 {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 7 over stage 6: a burst of allocations, freed in reverse order,
/// goes back to the OS. Each freed block merges with the top, which passes
/// the trim threshold; without merging, only the last block can join it.
pub fn burst_is_trimmed<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let first = heap.malloc(100);
    let before = heap.stats().heap_bytes;
    let burst: Vec<_> = (0..1000).map(|_| heap.malloc(5000)).collect();
    let peak = heap.stats().heap_bytes;
    for &p in burst.iter().rev() {
        // SAFETY: live blocks of `heap` (or null), freed once.
        unsafe { heap.free(p) };
    }
    let after = heap.stats().heap_bytes;
    // SAFETY: a live block of `heap`.
    unsafe { heap.free(first) };
    let figures =
        format!("heap before the burst: {before} bytes; at its peak: {peak}; after: {after}");
    // Back to within 256 KiB of where it started (the trim threshold and the
    // top pad stay).
    if after <= before + 256 * 1024 {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 7 over stage 6: the malloc lab's coalescing pattern. A thousand
/// neighbours of 1000 bytes are freed (every other one first, so that each
/// later free has a free block on both sides); then 300 requests of 3000
/// bytes, the size of three neighbours, need no new memory. Without merging,
/// the freed blocks stay 1000-byte pieces that cannot serve them.
pub fn neighbours_merge<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let blocks: Vec<_> = (0..1000).map(|_| heap.malloc(1000)).collect();
    let guard = heap.malloc(16); // keeps the freed blocks off the top
    if blocks.iter().any(|p| p.is_null()) || guard.is_null() {
        return Err("malloc(1000) failed".into());
    }
    let evens = blocks.iter().step_by(2);
    let odds = blocks.iter().skip(1).step_by(2);
    for &p in evens.chain(odds) {
        // SAFETY: live blocks of `heap`, freed once.
        unsafe { heap.free(p) };
    }
    let before = heap.stats().footprint();
    let big: Vec<_> = (0..300).map(|_| heap.malloc(3000)).collect();
    let after = heap.stats().footprint();
    for &p in big.iter().chain([&guard]) {
        // SAFETY: live blocks of `heap` (or null), freed once.
        unsafe { heap.free(p) };
    }
    let figures = format!(
        "footprint after freeing 1,000 neighbours of 1000 B: {before} bytes; after 300 × 3000 B: {after} bytes (+{})",
        after.saturating_sub(before)
    );
    if big.iter().all(|p| !p.is_null()) && after <= before {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 8 over stage 7: each misuse that stage 7 lets pass (a double free,
/// also of a block merged since; a pointer malloc never returned; an
/// overwritten header or free-list link) stops the program with one line
/// on stderr and SIGABRT. Each is tried on a fresh allocator in a child
/// process (see [`misuse`](crate::misuse)).
pub fn misuse_is_stopped<M: Malloc>(fresh: impl Fn() -> M) -> Result<String, String> {
    let mut stopped = Vec::new();
    let mut passed = Vec::new();
    for misuse in crate::misuse::MISUSES.iter().filter(|m| !m.debug) {
        let outcome = crate::misuse::try_in_child(|| Box::new(fresh()), misuse.name);
        if outcome.stopped_with(misuse.message) {
            stopped.push(format!("{}: {}", misuse.name, outcome.describe()));
        } else {
            passed.push(format!(
                "{}: should stop with \"{}\", but {}",
                misuse.name,
                misuse.message,
                outcome.describe()
            ));
        }
    }
    let figures = format!(
        "{} of {} misuses stopped{}",
        stopped.len(),
        stopped.len() + passed.len(),
        passed
            .iter()
            .chain(&stopped)
            .map(|line| format!("\n    {line}"))
            .collect::<String>()
    );
    if passed.is_empty() {
        Ok(figures)
    } else {
        Err(figures)
    }
}

/// Stage 9 over stage 8: the lock is taken far less than once per call.
/// One thread makes 100,000 malloc/free pairs of small blocks; then one
/// thread allocates 100,000 blocks and another thread frees them all (every
/// free is of a block another thread allocated). Stage 8 takes its lock at
/// every call; a per-thread cache serves the pairs without it, and gives
/// another thread's blocks back to the heap without it too.
pub fn lock_rarely_taken<M: Malloc + ?Sized>(heap: &M) -> Result<String, String> {
    let pairs = 100_000;
    let sizes = [16, 24, 40, 64, 100, 200, 256, 500, 1000, 1024];
    let before = heap.stats().locks;
    for i in 0..pairs {
        let p = heap.malloc(sizes[i % sizes.len()]);
        // SAFETY: a live block of `heap` (or null), freed once.
        unsafe { heap.free(p) };
    }
    let alone = heap.stats().locks - before;

    let blocks = 100_000;
    let allocated: Vec<usize> = std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            (0..blocks)
                .map(|i| heap.malloc(sizes[i % sizes.len()]) as usize)
                .collect()
        });
        producer.join().expect("the producer thread")
    });
    let before = heap.stats().locks;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for &p in &allocated {
                // SAFETY: live blocks of `heap` (or null) from the other
                // thread, each freed once.
                unsafe { heap.free(p as *mut u8) };
            }
        });
    });
    // `stats` takes the lock once itself.
    let crossed = heap.stats().locks - before - 1;
    let figures = format!(
        "one thread, {pairs} malloc/free pairs: the lock taken {alone} times; \
         {blocks} frees of another thread's blocks: {crossed} times"
    );
    if alone <= pairs as u64 / 100 && crossed <= blocks as u64 / 100 {
        Ok(figures)
    } else {
        Err(figures)
    }
}
