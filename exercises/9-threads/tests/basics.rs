//! Stage 9's own behaviour (the shared suite in tests/ checks the C
//! contract, also with threads; lessons.rs counts the lock).

use exercise9_threads::{KEY, SLOTS, Settings, Threaded};
use malloc_core::{Malloc, SimBreak, SimPages};

fn heap() -> Threaded<SimBreak, SimPages> {
    Threaded::with_settings(SimBreak::new(), SimPages::new(), Some(Settings::DEFAULT))
}

#[test]
fn small_frees_wait_in_the_thread_cache() {
    let heap = heap();
    let blocks: Vec<_> = [20, 20, 100, 3000, 40]
        .iter()
        .map(|&n| heap.malloc(n))
        .collect();
    // SAFETY: live blocks, freed once.
    unsafe {
        heap.free(blocks[0]);
        heap.free(blocks[2]);
    }
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    // Small blocks freed by this thread wait in its cache, not in the bins.
    assert!(
        map.lines().any(|line| line == "free blocks by bin:"),
        "{map}"
    );
    assert!(map.matches("cached").count() >= 2, "{map}");
    // The program's view: three blocks live, whatever the caches hold.
    let stats = heap.stats();
    assert_eq!(stats.live_blocks, 3, "{stats:?}");
    assert_eq!(stats.live_bytes, 20 + 3000 + 40, "{stats:?}");
    assert_eq!((stats.mallocs, stats.frees), (5, 2), "{stats:?}");
    malloc_core::assert_sound(&heap);
}

#[test]
fn a_full_cache_gives_blocks_back_without_the_lock() {
    let heap = heap();
    let blocks: Vec<_> = (0..1000).map(|_| heap.malloc(64)).collect();
    let before = heap.stats().locks;
    for p in blocks {
        // SAFETY: live blocks, freed once.
        unsafe { heap.free(p) };
    }
    // One lock: `stats` itself, which frees the blocks that waited.
    let stats = heap.stats();
    assert_eq!(stats.locks - before, 1, "{stats:?}");
    assert_eq!((stats.live_blocks, stats.live_bytes), (0, 0), "{stats:?}");
    malloc_core::assert_sound(&heap);
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    // A cache's depth of blocks stay cached; the rest merged into one.
    assert_eq!(map.matches("free           in").count(), 1, "{map}");
}

/// A block handed to another thread. Raw pointers are not `Send`; passing
/// the address as a number instead would make a pointer that may reach no
/// memory (Miri's strict provenance rejects it).
struct Block(*mut u8);

// SAFETY: the heap is `Sync`, and only the thread that frees a block uses it.
unsafe impl Sync for Block {}

#[test]
fn blocks_freed_by_another_thread_come_back() {
    let heap = heap();
    let count = if cfg!(miri) { 300 } else { 10_000 };
    let blocks: Vec<Block> = (0..count)
        .map(|i| Block(heap.malloc(16 + i % 500)))
        .collect();
    let peak = heap.stats().footprint();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for block in &blocks {
                // SAFETY: live blocks of `heap` from the other thread,
                // freed once.
                unsafe { heap.free(block.0) };
            }
        });
    });
    let stats = heap.stats();
    assert_eq!((stats.live_blocks, stats.live_bytes), (0, 0), "{stats:?}");
    malloc_core::assert_sound(&heap);
    // The other thread's cache keeps at most DEPTH blocks per class (here
    // 32 classes, at most 16 × 528 bytes each); the rest went back to the
    // heap, where this thread reuses them.
    let again: Vec<_> = (0..count).map(|i| heap.malloc(16 + i % 500)).collect();
    let kept = 32 * 16 * 528;
    assert!(
        heap.stats().footprint() <= peak + kept,
        "{:?}",
        heap.stats()
    );
    for p in again {
        // SAFETY: live blocks, freed once.
        unsafe { heap.free(p) };
    }
}

/// Each thread claims a cache of its own. Five threads at once: a thread
/// looks at four slots near its place, so if every thread looked at the
/// same four, one would go without.
#[test]
fn each_thread_claims_a_cache_of_its_own() {
    const THREADS: usize = 5;
    let heap = heap();
    let all_alive = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                all_alive.wait();
                let p = heap.malloc(32);
                // SAFETY: a live block of this heap, freed once.
                unsafe { heap.free(p) };
                all_alive.wait();
            });
        }
    });
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    let claimed = format!("thread caches: {THREADS} of {SLOTS} claimed, {THREADS} blocks in them");
    assert!(map.lines().any(|line| line == claimed), "{map}");
}

/// A cached block is marked with [`KEY`] in its second payload word, and a
/// free of a block so marked looks in the cache before calling it a double
/// free: the program's own data may hold the same word.
#[test]
fn a_live_block_holding_the_cache_mark_is_no_double_free() {
    let heap = heap();
    let p = heap.malloc(32);
    // SAFETY: `p` has 32 bytes; freed once.
    unsafe {
        p.add(8).cast::<usize>().write_unaligned(KEY);
        heap.free(p);
    }
    assert_eq!(heap.malloc(32), p, "cached, then handed out again");
}

/// The heap map tells a cached block (its size word 0, the cache's mark in
/// its payload) from a live block of 0 bytes, which has no mark.
#[test]
fn a_live_block_of_no_bytes_is_not_called_cached() {
    let heap = heap();
    let p = heap.malloc(0);
    assert!(!p.is_null());
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    assert!(map.contains("live         0 B in     16"), "{map}");
    assert!(!map.contains("cached "), "{map}");
}

/// In a `fork`'s child, the parent's other threads are gone, maybe half-way
/// through a change to their caches, and a thread the child starts may be
/// given one of their keys. So `unlock_in_child` gives their caches up: a
/// thread holding such a key (here the other thread, still running, stands
/// in for the child's new one) no longer finds its cached block, while the
/// thread that forked keeps its cache.
#[test]
fn a_fork_child_gives_up_the_other_threads_caches() {
    let heap = heap();
    let mine = heap.malloc(32);
    // SAFETY: a live block of this heap, freed once.
    unsafe { heap.free(mine) };
    let step = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let theirs = heap.malloc(32);
            // SAFETY: a live block of this heap, freed once.
            unsafe { heap.free(theirs) };
            step.wait(); // cached
            step.wait(); // the "fork" happened
            let again = heap.malloc(32);
            assert_ne!(again, theirs, "a given-up cache served a block");
            // SAFETY: a live block of this heap, freed once.
            unsafe { heap.free(again) };
        });
        step.wait();
        heap.lock_for_fork();
        // SAFETY: this thread took the lock just above.
        unsafe { heap.unlock_in_child() };
        step.wait();
    });
    assert_eq!(heap.malloc(32), mine, "the forking thread's cache is kept");
    // The other thread claimed a fresh cache for `again`; the given-up
    // one still holds `theirs`, lost.
    let mut map = String::new();
    heap.heap_map(&mut map).unwrap();
    let claimed = format!("thread caches: 3 of {SLOTS} claimed, 2 blocks in them");
    assert!(map.lines().any(|line| line == claimed), "{map}");
}

/// Writes into the link word of the freed block at `payload` a link to
/// `target`, mixed as safe-linking stores it (the target's address XOR the
/// link word's address shifted right by 12, as in glibc): what a use after
/// free that knows the scheme could write.
///
/// # Safety
///
/// `payload` is a block in this thread's cache.
unsafe fn forge_link(payload: *mut u8, target: *mut u8) {
    let mixed = target.map_addr(|a| a ^ (payload.addr() >> 12));
    // SAFETY: the caller gives a cached block: its first word is the link.
    unsafe { payload.cast::<*mut u8>().write(mixed) };
}

/// The heap check reads the calling thread's cache: every block in it
/// must be a live block of ours, of its class, with no size and the mark.
#[test]
fn the_heap_check_reads_this_threads_cache() {
    let heap = heap();
    let (p, q, live) = (heap.malloc(32), heap.malloc(32), heap.malloc(32));
    // SAFETY: live blocks of this heap, freed once: into the cache.
    unsafe {
        heap.free(p);
        heap.free(q);
    }
    heap.check().expect("two cached blocks, well formed");
    let not_cached = "a block in a thread cache is not a cached block of its class";
    // SAFETY: `p` and `q` are in this thread's cache, and their first two
    // payload words are the cache's to write; the test puts the mark back
    // before it forges links.
    unsafe {
        // The newest block's mark wiped.
        q.add(8).cast::<usize>().write(0);
        assert_eq!(heap.check().unwrap_err().problem, not_cached);
        q.add(8).cast::<usize>().write(KEY);
        heap.check().expect("the mark is back");
        // The newest block's link forged to a live block (its header).
        forge_link(q, live.wrapping_sub(16));
        assert_eq!(heap.check().unwrap_err().problem, not_cached);
        // ... or to nothing, one block early.
        forge_link(q, std::ptr::null_mut());
        assert_eq!(
            heap.check().unwrap_err().problem,
            "a thread cache's count says it holds more blocks than its links reach"
        );
        // ... or to memory outside the heap.
        static ELSEWHERE: [u128; 4] = [0; 4];
        forge_link(q, ELSEWHERE.as_ptr().cast_mut().cast());
        let error = heap.check().unwrap_err();
        assert_eq!(
            error.problem,
            "a thread cache points outside the heap (a link was overwritten)"
        );
        assert_eq!(error.addr, ELSEWHERE.as_ptr().addr());
    }
}
