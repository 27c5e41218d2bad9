//! Promises every stage keeps that the suite cannot ask of any allocator
//! (the system malloc has no stats; the suite's own test allocator keeps
//! its books in a side table):
//!
//! - stats count a `memalign` only when its alignment is more than every
//!   block has anyway (16 bytes): the others are plain mallocs; and their
//!   peak footprint is the most memory the heap ever held;
//! - the heap check sees a block header that a buggy program overwrote.
//!   The check is the tool every other test leans on, so a check that
//!   always answers "fine" must fail somewhere: here. Every way a header
//!   can lie (a size or a span that is wrong but looks valid) is tried;
//! - `lock_for_fork` holds every other thread's malloc until
//!   `unlock_after_fork` (or `unlock_in_child`), which the LD_PRELOAD
//!   library's `fork` relies on;
//! - from stage 3 on (the policy lab), a stage says which policies it can
//!   run and which one it runs, and each fit takes the block it names,
//!   finds a lone free block of exactly the size asked or far bigger, and
//!   best fit the smaller of two;
//! - from stage 4 on, a free block bigger than a request serves it, and
//!   what is left of it stays whole for a large request.
//! - from stage 7 on, the bins file each size where its floor says, and
//!   the heap check sees a boundary tag (a free block's
//!   footer, the flag saying the block before is free) that lies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use conformance::edge::check_finds_a_broken_header;
use conformance::exercise::Boxed;
use malloc_core::{Fit, Malloc, Order, Policy, Stats};
use workbook_manifest::STAGES;

/// Every stage, fresh, on simulated sources.
fn stages() -> impl Iterator<Item = (u32, Boxed)> {
    STAGES.iter().map(|stage| {
        let heap = all_stages::simulated(stage.number).expect("a stage of the manifest");
        (stage.number, Boxed(heap))
    })
}

#[test]
fn every_stage_sees_an_overwritten_header() {
    let problems: Vec<String> = stages()
        .filter_map(|(n, heap)| {
            check_finds_a_broken_header(&heap)
                .err()
                .map(|problem| format!("stage {n}: {problem}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every stage's block header is the same two words before the payload
/// (each stage's `block.rs`): the bytes asked, then the span with the tag
/// in its low four bits.
const SIZE_WORD: usize = 2;
const SPAN_WORD: usize = 1;

/// The header word `back` words before the payload `p`.
fn word(p: *mut u8, back: usize) -> *mut usize {
    p.wrapping_sub(back * size_of::<usize>()).cast()
}

/// Header words and the values to write there.
type Writes = Vec<(*mut usize, usize)>;

/// A header that lies, and how to write the lie: `(word, new value)` pairs
/// made from the two blocks it is given and their usable sizes.
struct Lie {
    what: &'static str,
    write: fn([*mut u8; 2], [usize; 2]) -> Writes,
    /// A span that cannot be walked is blamed on its own block, so that the
    /// heap map points at the header that lies, not somewhere after it.
    names_the_block: bool,
}

const LIES: [Lie; 5] = [
    Lie {
        what: "a live block's size shrunk by 16 bytes",
        write: |[p, _], _| {
            // SAFETY: (every read below) the header word of a live block.
            let size = unsafe { *word(p, SIZE_WORD) };
            vec![(word(p, SIZE_WORD), size - 16)]
        },
        names_the_block: false,
    },
    Lie {
        what: "a live block's size grown past its usable bytes, and another's \
               shrunk by as much (the total stays right)",
        write: |[p, q], [usable, _]| {
            // SAFETY: as above.
            let (size_p, size_q) = unsafe { (*word(p, SIZE_WORD), *word(q, SIZE_WORD)) };
            let more = usable + 1 - size_p;
            vec![
                (word(p, SIZE_WORD), size_p + more),
                (word(q, SIZE_WORD), size_q - more),
            ]
        },
        names_the_block: false,
    },
    Lie {
        what: "a live block's span zeroed, its tag kept",
        write: |[p, _], _| {
            // SAFETY: as above.
            let span = unsafe { *word(p, SPAN_WORD) };
            vec![(word(p, SPAN_WORD), span & 15)]
        },
        names_the_block: true,
    },
    Lie {
        what: "a live block's span grown by 16 bytes",
        write: |[p, _], _| {
            // SAFETY: as above.
            let span = unsafe { *word(p, SPAN_WORD) };
            vec![(word(p, SPAN_WORD), span + 16)]
        },
        names_the_block: false,
    },
    Lie {
        what: "a live block's span reaching past the heap",
        write: |[p, _], _| {
            // SAFETY: as above.
            let span = unsafe { *word(p, SPAN_WORD) };
            vec![(word(p, SPAN_WORD), (span & 15) | 1 << 40)]
        },
        names_the_block: true,
    },
];

#[test]
fn every_stage_sees_a_header_that_lies() {
    let mut problems = Vec::new();
    for (n, heap) in stages() {
        let blocks: Vec<*mut u8> = (0..5).map(|_| heap.malloc(64)).collect();
        assert!(blocks.iter().all(|p| !p.is_null()), "stage {n}: malloc(64)");
        let pair = [blocks[1], blocks[3]];
        let header = pair[0] as usize - 2 * size_of::<usize>();
        // SAFETY: live blocks of this heap.
        let usable = pair.map(|p| unsafe { heap.usable_size(p) });
        for lie in LIES {
            let writes = (lie.write)(pair, usable);
            // SAFETY: header words of live blocks, each put back below
            // before the heap is used again.
            let saved: Vec<usize> = writes.iter().map(|&(w, _)| unsafe { *w }).collect();
            for &(w, value) in &writes {
                // SAFETY: as above.
                unsafe { *w = value };
            }
            let verdict = heap.check();
            for (&(w, _), old) in writes.iter().zip(saved) {
                // SAFETY: as above.
                unsafe { *w = old };
            }
            let what = lie.what;
            match verdict {
                Ok(()) => problems.push(format!("stage {n}: check() found nothing wrong with {what}")),
                Err(e) if lie.names_the_block && e.addr != header => problems.push(format!(
                    "stage {n}: with {what}, check() blamed {:#x}, not the block's header at {header:#x} ({e})",
                    e.addr
                )),
                Err(_) => {}
            }
            assert!(
                heap.check().is_ok(),
                "stage {n}: the heap after {what} was undone"
            );
        }
        for p in blocks {
            // SAFETY: a live block of this heap.
            unsafe { heap.free(p) };
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// From stage 3 on, a freed block's first payload word links it to the
/// next free block. A stray write there must not go unseen by the check
/// either: a link to a live block, a loop, or a link to an address
/// outside the heap, which the check must name as such without following
/// it. The blocks are
/// large, so that they go on free lists, not in buckets or stage 9's
/// thread caches.
#[test]
fn stages_from_3_on_see_a_free_list_link_that_lies() {
    // Where a lying link points, made from the live and the freed block.
    type To = fn(*mut u8, *mut u8) -> *mut u8;
    let lies: [(&str, To, Option<&str>); 4] = [
        (
            "a live block's header",
            |live, _| live.wrapping_sub(16),
            None,
        ),
        (
            "the block itself (a loop)",
            |_, freed| freed.wrapping_sub(16),
            None,
        ),
        (
            "an address below the heap",
            |live, _| live.with_addr(16),
            Some("outside"),
        ),
        (
            "an address past the heap",
            |live, _| live.with_addr(usize::MAX - 15),
            Some("outside"),
        ),
    ];
    for (n, heap) in stages().filter(|&(n, _)| n >= 3) {
        let blocks: Vec<*mut u8> = (0..4).map(|_| heap.malloc(2000)).collect();
        assert!(
            blocks.iter().all(|p| !p.is_null()),
            "stage {n}: malloc(2000)"
        );
        let (live, freed) = (blocks[1], blocks[2]);
        // SAFETY: a live block of this heap.
        unsafe { heap.free(freed) };
        // (Stages 8 and 9 keep links mangled: a plain address written
        // there reads back as another, outside the heap.)
        let link = freed.cast::<*mut u8>();
        for (to, target, problem) in lies {
            // SAFETY: the first word of a block freed just now, in the
            // heap's memory; put back before the heap is used again.
            let saved = unsafe { link.read() };
            // SAFETY: as above.
            unsafe { link.write(target(live, freed)) };
            let verdict = heap.check();
            // SAFETY: as above.
            unsafe { link.write(saved) };
            match (verdict, problem) {
                (Ok(()), _) => panic!("stage {n}: check() found nothing wrong with a link to {to}"),
                (Err(e), Some(problem)) if !e.problem.contains(problem) => {
                    panic!("stage {n}: with a link to {to}, check() said: {e}")
                }
                (Err(_), _) => {}
            }
            assert!(
                heap.check().is_ok(),
                "stage {n}: the heap after the link was put back"
            );
        }
        for p in blocks.into_iter().filter(|&p| p != freed) {
            // SAFETY: a live block of this heap.
            unsafe { heap.free(p) };
        }
    }
}

/// From stage 7 on, blocks carry boundary tags: a free block's last word
/// (its footer) repeats its span, and the next block's header has a flag
/// saying the block before it is free. Merging trusts both, so the heap
/// check must see either one lie.
#[test]
fn from_stage_7_on_the_check_sees_a_boundary_tag_that_lies() {
    /// The flag "the block before is free", in the span word.
    const PREV_FREE: usize = 8;
    for (n, heap) in stages().filter(|&(n, _)| n >= 7) {
        // Blocks too big for stage 9's thread cache: freed, they are filed
        // in the bins at once, and merged.
        let [a, b, guard] = [3000; 3].map(|size| heap.malloc(size));
        // SAFETY: a live block of this heap, freed once.
        unsafe { heap.free(a) };
        heap.check()
            .unwrap_or_else(|e| panic!("stage {n}: before the lies: {e}"));
        // `a`'s footer is the word before `b`'s header.
        let lies = [
            ("footer", word(b, SPAN_WORD + 2), 16),
            ("flag", word(b, SPAN_WORD), PREV_FREE),
        ];
        for (what, at, flip) in lies {
            // SAFETY: a word of the heap's own memory, put back below.
            let kept = unsafe { at.read() };
            // SAFETY: as above.
            unsafe { at.write(kept ^ flip) };
            let seen = heap.check();
            // SAFETY: as above.
            unsafe { at.write(kept) };
            let error = seen.expect_err(&format!("stage {n}: a {what} that lies"));
            assert!(
                error.to_string().contains(what),
                "stage {n}: a {what} that lies: {error}"
            );
        }
        for p in [b, guard] {
            // SAFETY: live blocks of this heap, each freed once.
            unsafe { heap.free(p) };
        }
        malloc_core::assert_sound(&heap);
    }
}

/// Frees a block of `free` bytes (kept from the top by a live block after
/// it), makes the requests, and says which of them the free block served.
fn served_by_a_free_block(heap: &dyn Malloc, free: usize, requests: &[usize]) -> Vec<bool> {
    let block = heap.malloc(free);
    let guard = heap.malloc(2000);
    // SAFETY: a live block of this heap.
    unsafe { heap.free(block) };
    let taken: Vec<*mut u8> = requests.iter().map(|&size| heap.malloc(size)).collect();
    let inside = taken
        .iter()
        .map(|&p| (block..block.wrapping_add(free)).contains(&p))
        .collect();
    for p in taken.into_iter().chain([guard]) {
        // SAFETY: a live block of this heap (or null).
        unsafe { heap.free(p) };
    }
    inside
}

#[test]
fn from_stage_4_on_a_bigger_free_block_serves_a_request() {
    for n in STAGES.iter().map(|stage| stage.number).filter(|&n| n >= 4) {
        let fresh = || all_stages::simulated(n).expect("a stage of the manifest");
        // Only just big enough for a block of the 1024-byte class.
        assert_eq!(
            served_by_a_free_block(&*fresh(), 2000, &[1000]),
            [true],
            "stage {n}: malloc(1000) after a 2000-byte block was freed"
        );
        // A small request takes a part of a big one; a large one the rest.
        assert_eq!(
            served_by_a_free_block(&*fresh(), 20_000, &[100, 3000]),
            [true, true],
            "stage {n}: malloc(100), then malloc(3000), after a 20,000-byte block was freed"
        );
    }
}

#[test]
fn stages_from_3_on_say_which_policy_they_run() {
    for (n, heap) in stages() {
        let Some(choices) = heap.choices() else {
            assert!(n < 3, "stage {n} offers no policies to switch");
            continue;
        };
        assert_eq!(
            heap.policy(),
            Some(choices.default),
            "stage {n}: its own policy"
        );
        for policy in choices.policies() {
            let variant = all_stages::simulated_with_policy(n, policy).expect("a policy it offers");
            let name = choices.name(policy);
            assert_eq!(
                variant.policy(),
                Some(policy),
                "stage {n} built to run {name}"
            );
        }
    }
}

/// Five free blocks, A to E in address order, each between live blocks
/// that keep it from merging or going back to the top: their payload sizes.
const FREE: [(char, usize); 5] = [
    ('A', 2300),
    ('B', 2100),
    ('C', 2500),
    ('D', 2300),
    ('E', 2100),
];

/// The payload size of those live blocks: large too, as small blocks come
/// from buckets elsewhere in the heap.
const GUARD: usize = 1500;

/// The requests made once they are free, and which block each fit takes
/// on address-ordered lists, request by request. Only C holds the first
/// request. Every block left holds the others: first fit takes them by
/// address, best fit the smallest, worst fit the largest, and next fit
/// goes on after the block before its last catch, round to the start. A
/// tie goes to the block first on the list (B before E, A before D). The
/// free blocks share one bin of stages 7-9, above the bin of the last two
/// requests, where those stages choose as the free lists do.
const REQUESTS: [usize; 3] = [2400, 2000, 2000];
const TAKES: [(Fit, &str); 4] = [
    (Fit::First, "CAB"),
    (Fit::Next, "CDE"),
    (Fit::Best, "CBE"),
    (Fit::Worst, "CAD"),
];

/// Frees the four blocks, makes the requests, and names the free block
/// each request was served from ('?' for none of them); with the most
/// blocks a search looked at, by the heap's stats.
fn takes(heap: &dyn Malloc) -> (String, usize) {
    let mut blocks = Vec::new();
    let mut live = Vec::new();
    for (name, size) in FREE {
        live.push(heap.malloc(GUARD));
        let p = heap.malloc(size);
        assert!(!p.is_null(), "malloc({size})");
        blocks.push((name, p, size));
    }
    live.push(heap.malloc(GUARD));
    for &(_, p, _) in &blocks {
        // SAFETY: a live block of this heap.
        unsafe { heap.free(p) };
    }
    let mut taken = String::new();
    for size in REQUESTS {
        let p = heap.malloc(size);
        let from = blocks.iter().find(|&&(_, q, len)| within(p, q, len));
        taken.push(from.map_or('?', |&(name, _, _)| name));
        live.push(p);
    }
    let longest = heap.stats().longest_search;
    for p in live {
        // SAFETY: a live block of this heap (or null).
        unsafe { heap.free(p) };
    }
    (taken, longest)
}

#[test]
fn every_fit_takes_the_block_it_names() {
    let mut problems = Vec::new();
    for (n, heap) in stages() {
        let Some(choices) = heap.choices() else {
            continue;
        };
        for (fit, expected) in TAKES {
            if !choices.fits.contains(&fit) {
                continue;
            }
            let policy = Policy::new(fit, Order::Address, choices.default.merge);
            let variant = all_stages::simulated_with_policy(n, policy).expect("a policy it offers");
            let (got, _) = takes(&*variant);
            // On LIFO lists (where putting a block back walks nothing),
            // every fit looks at three blocks at least before it finds C.
            let lifo = Policy::new(fit, Order::Lifo, choices.default.merge);
            let variant = all_stages::simulated_with_policy(n, lifo).expect("a policy it offers");
            let (_, longest) = takes(&*variant);
            if longest < 3 {
                let name = choices.name(lifo);
                problems.push(format!(
                    "stage {n} under {name}: stats().longest_search is {longest}, not 3 or more"
                ));
            }
            if got != expected {
                let name = choices.name(policy);
                problems.push(format!(
                    "stage {n} under {name}: took {got}, not {expected}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "blocks {FREE:?}, requests {REQUESTS:?}:\n{}",
        problems.join("\n")
    );
}

/// A stage's bin map: which bin a free block of so many payload bytes is
/// filed in, and the smallest payload of each bin.
struct BinMap {
    stage: u32,
    bin_of: fn(usize) -> usize,
    bin_floor: fn(usize) -> usize,
    bins: usize,
}

/// The bin maps of the stages with bins (7 on).
const BIN_MAPS: [BinMap; 3] = [
    BinMap {
        stage: 7,
        bin_of: stage7_merge::bin_of,
        bin_floor: stage7_merge::bin_floor,
        bins: stage7_merge::BINS,
    },
    BinMap {
        stage: 8,
        bin_of: stage8_hardened::bin_of,
        bin_floor: stage8_hardened::bin_floor,
        bins: stage8_hardened::BINS,
    },
    BinMap {
        stage: 9,
        bin_of: stage9_threads::bin_of,
        bin_floor: stage9_threads::bin_floor,
        bins: stage9_threads::BINS,
    },
];

/// From stage 7 on, the bins file every payload size once, in order: one
/// bin per size up to 1024 bytes, then four per doubling, each block in the
/// last bin whose floor it reaches (so a bin's floor is a promise about all
/// its blocks).
#[test]
fn from_stage_7_on_the_bins_file_every_size_in_the_last_bin_it_reaches() {
    let with_bins: Vec<u32> = STAGES
        .iter()
        .map(|s| s.number)
        .filter(|&n| n >= 7)
        .collect();
    let mapped: Vec<u32> = BIN_MAPS.iter().map(|m| m.stage).collect();
    assert_eq!(mapped, with_bins, "BIN_MAPS lists the stages from 7 on");
    for map in BIN_MAPS {
        let (n, last) = (map.stage, map.bins - 1);
        let floors = [0, 1, 62, 63, 64, 65, 66, 67, 68, 72, last].map(map.bin_floor);
        assert_eq!(
            floors,
            [
                16,
                32,
                1008,
                1024,
                1024,
                1280,
                1536,
                1792,
                2048,
                4096,
                7 << 23
            ],
            "stage {n}: the floors of bins 0, 1, 62-68, 72 and the last"
        );
        for bin in 65..map.bins {
            assert!(
                (map.bin_floor)(bin - 1) < (map.bin_floor)(bin),
                "stage {n}: bin {bin}'s floor"
            );
        }
        let sizes = (16..=1 << 15)
            .step_by(16)
            .chain((15..30).flat_map(|shift| [(1 << shift) - 16, 1 << shift, (5 << shift) / 4]));
        for usable in sizes {
            let bin = (map.bin_of)(usable);
            if usable <= 1024 {
                assert_eq!(bin, usable / 16 - 1, "stage {n}: an exact bin for {usable}");
                continue;
            }
            let floor = (map.bin_floor)(bin);
            assert!(
                floor <= usable && (bin == last || usable < (map.bin_floor)(bin + 1)),
                "stage {n}: {usable} bytes went in bin {bin}, whose floor is {floor}"
            );
        }
        assert_eq!(
            (map.bin_of)(usize::MAX & !15),
            last,
            "stage {n}: the last bin"
        );
    }
}

/// Whether `p` points into the block of `len` bytes at `block`.
fn within(p: *mut u8, block: *mut u8, len: usize) -> bool {
    (block..block.wrapping_add(len)).contains(&p)
}

/// The edges of each fit's search. Under every policy, a lone free block
/// serves a request of exactly its size (it is not passed over for new
/// memory), and a lone block far bigger than the request is found (in
/// stages 7-9, some bins above the request's). And best fit takes the
/// smaller of two blocks that both fit, even when the bigger one was freed
/// last and the request is exactly the smallest size of their bin.
#[test]
fn every_fit_finds_a_lone_block_and_best_fit_the_smaller_of_two() {
    for (n, heap) in stages() {
        let Some(choices) = heap.choices() else {
            continue;
        };
        for policy in choices.policies() {
            let name = choices.name(policy);
            for (size, request) in [(2048, 2048), (5000, 2000)] {
                let heap = all_stages::simulated_with_policy(n, policy).expect("its policy");
                let [_, p, _] = [GUARD, size, GUARD].map(|size| heap.malloc(size));
                // SAFETY: a live block of this heap, freed once.
                unsafe { heap.free(p) };
                let q = heap.malloc(request);
                assert!(
                    within(q, p, size),
                    "stage {n} under {name}: malloc({request}) with one free block of \
                     {size} bytes"
                );
                let longest = heap.stats().longest_search;
                assert!(
                    longest >= 1,
                    "stage {n} under {name}: longest_search {longest} after finding a block"
                );
            }
        }
        let best = Policy::new(Fit::Best, Order::Lifo, choices.default.merge);
        if !choices.supports(best) {
            continue;
        }
        let heap = all_stages::simulated_with_policy(n, best).expect("its policy");
        let [_, smaller, _, bigger, _] =
            [GUARD, 2100, GUARD, 2300, GUARD].map(|size| heap.malloc(size));
        for p in [smaller, bigger] {
            // SAFETY: live blocks of this heap, each freed once.
            unsafe { heap.free(p) };
        }
        let q = heap.malloc(2048);
        assert!(
            within(q, smaller, 2100),
            "stage {n} under {}: malloc(2048) with free blocks of 2100 and 2300 bytes",
            choices.name(best)
        );
    }
}

#[test]
fn stats_keep_the_peak_footprint() {
    for (n, heap) in stages() {
        let small = heap.malloc(100);
        // A megabyte: from the break in stages 1-4, mapped from stage 5 on.
        let big = heap.malloc(1 << 20);
        assert!(!small.is_null() && !big.is_null(), "stage {n}: malloc");
        let held = heap.stats();
        // Nothing was given back yet: the peak is the footprint now.
        assert_eq!(
            held.footprint_peak,
            held.footprint(),
            "stage {n}: footprint_peak while a megabyte is held ({held:?})"
        );
        for p in [big, small] {
            // SAFETY: a live block of this heap.
            unsafe { heap.free(p) };
        }
        let freed = heap.stats().footprint_peak;
        assert_eq!(
            freed, held.footprint_peak,
            "stage {n}: footprint_peak after the megabyte was freed"
        );
    }
}

/// From stage 5 on, a large block gets a mapping of its own: just the pages
/// its header and payload need, not a page more, in one system call.
#[test]
fn from_stage_5_on_a_mapped_block_takes_the_pages_it_needs() {
    let pages = 64 * 4096;
    for (n, heap) in stages().filter(|&(n, _)| n >= 5) {
        let before = heap.stats();
        let calls = |s: Stats| {
            (
                s.mmap_calls - before.mmap_calls,
                s.munmap_calls - before.munmap_calls,
            )
        };
        let p = heap.malloc(pages - 16);
        assert!(!p.is_null(), "stage {n}: malloc");
        let held = heap.stats();
        assert_eq!(
            held.mapped_bytes,
            pages,
            "stage {n}: mapped bytes for malloc({})",
            pages - 16
        );
        assert_eq!(
            calls(held),
            (1, 0),
            "stage {n}: (mmap, munmap) calls for malloc({})",
            pages - 16
        );
        // SAFETY: a live block of this heap.
        unsafe { heap.free(p) };
        // A 64 KiB alignment maps 64 KiB more, then gives back at once the
        // whole pages before the header's page. A mapping that starts just
        // one page before an aligned address has none to give back, so two
        // mappings one page apart are tried: at most one of them can.
        let mut heads = 0;
        let mut held = Vec::new();
        for size in [pages + 4096, pages] {
            let was = heap.stats();
            let q = heap.memalign(1 << 16, size);
            assert!(
                !q.is_null() && q.addr().is_multiple_of(1 << 16),
                "stage {n}: memalign(65536, {size})"
            );
            let now = heap.stats();
            let mapped = now.mapped_bytes - was.mapped_bytes;
            let head = now.munmap_calls - was.munmap_calls;
            assert_eq!(
                now.mmap_calls - was.mmap_calls,
                1,
                "stage {n}: mmap calls for memalign(65536, {size})"
            );
            assert!(
                head <= 1 && mapped <= size + (1 << 16) + 4096,
                "stage {n}: memalign(65536, {size}) made {head} munmap calls, \
                 {mapped} bytes left mapped"
            );
            if head == 1 {
                assert!(
                    mapped < size + (1 << 16),
                    "stage {n}: memalign(65536, {size}) gave back nothing in its munmap \
                     ({mapped} bytes left mapped)"
                );
            }
            heads += head;
            held.push(q);
        }
        assert!(
            heads >= 1,
            "stage {n}: neither memalign gave back the pages before its header"
        );
        for q in held {
            // SAFETY: a live block of this heap.
            unsafe { heap.free(q) };
        }
        let after = heap.stats();
        assert_eq!(
            (after.mapped_bytes, calls(after)),
            (before.mapped_bytes, (3, 3 + heads)),
            "stage {n}: (mapped bytes, (mmap, munmap) calls) once every block is freed"
        );
    }
}

#[test]
fn stats_count_memaligns_above_16_bytes() {
    for (n, heap) in stages() {
        for align in [1, 8, 16, 32, 4096] {
            let counted = heap.stats().memaligns;
            let p = heap.memalign(align, 24);
            assert!(
                !p.is_null(),
                "stage {n}: memalign({align}, 24) returned null"
            );
            let expected = counted + u64::from(align > 16);
            assert_eq!(
                heap.stats().memaligns,
                expected,
                "stage {n}: stats().memaligns after memalign({align}, 24)"
            );
            // SAFETY: a live block of this heap.
            unsafe { heap.free(p) };
        }
    }
}

#[test]
fn lock_for_fork_holds_other_threads_mallocs() {
    // Released as in the parent, then as in the child.
    for in_child in [false, true] {
        for (n, heap) in stages() {
            held_until_released(n, &heap, in_child);
        }
    }
}

fn held_until_released(n: u32, heap: &Boxed, in_child: bool) {
    let served = AtomicBool::new(false);
    heap.lock_for_fork();
    thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let p = heap.malloc(64);
            served.store(true, Ordering::SeqCst);
            if p.is_null() {
                return false;
            }
            // SAFETY: a live block of this heap, freed by its owner.
            unsafe { heap.free(p) };
            true
        });
        // Long enough for an unheld malloc to finish many times over;
        // a held one cannot finish at all, however long this is.
        thread::sleep(Duration::from_millis(50));
        let early = served.load(Ordering::SeqCst);
        // SAFETY: this thread took the lock with lock_for_fork above.
        unsafe {
            if in_child {
                heap.unlock_in_child();
            } else {
                heap.unlock_after_fork();
            }
        }
        assert!(
            !early,
            "stage {n}: another thread's malloc finished while lock_for_fork held the heap"
        );
        let got = worker.join().expect("the worker thread");
        assert!(
            got,
            "stage {n}: malloc(64) after the unlock (in_child: {in_child}) returned null"
        );
    });
}
