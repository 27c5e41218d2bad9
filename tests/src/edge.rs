//! The corner cases of the C malloc API, one function each.
//!
//! Each function takes a fresh allocator, runs a few calls, and returns what
//! went wrong in words. The heap checks itself (`check()`) after every step.

use malloc_core::{ALIGN, MAX_REQUEST, Malloc};

use crate::fill;

/// Sizes every edge test walks through: tiny, class boundaries ±1, a page,
/// the mmap threshold ±1, a few MiB. Under Miri, one of each kind.
pub const SIZES: &[usize] = if cfg!(miri) { MIRI_SIZES } else { ALL_SIZES };

/// [`SIZES`] under Miri, which interprets every step (and every heap check).
const MIRI_SIZES: &[usize] = &[0, 1, 17, 1025, 131071, 131073, 3 << 20];

/// [`SIZES`] on the machine.
const ALL_SIZES: &[usize] = &[
    0,
    1,
    15,
    16,
    17,
    63,
    64,
    65,
    255,
    256,
    257,
    1023,
    1024,
    1025,
    4096,
    131071,
    131072,
    131073,
    3 << 20,
];

/// Requests that must fail with null and must not wrap around when an
/// allocator adds its header or rounds up.
pub const HUGE: &[usize] = &[
    usize::MAX,
    usize::MAX - 15,
    usize::MAX - 4095,
    isize::MAX as usize + 1,
    MAX_REQUEST + 1,
];

/// `malloc(0)` returns unique, aligned, freeable pointers, as glibc does.
pub fn malloc_zero<M: Malloc>(heap: &M) -> Result<(), String> {
    let a = heap.malloc(0);
    let b = heap.malloc(0);
    if a.is_null() || b.is_null() {
        return Err(format!("malloc(0) returned null ({a:p}, {b:p})"));
    }
    if a == b {
        return Err(format!(
            "two calls to malloc(0) returned the same pointer {a:p}"
        ));
    }
    aligned(a, ALIGN)?;
    aligned(b, ALIGN)?;
    checked(heap, "after two malloc(0)")?;
    // SAFETY: live blocks of this heap.
    unsafe {
        heap.free(a);
        heap.free(b);
    }
    checked(heap, "after freeing two malloc(0) blocks")
}

/// `free(null)` does nothing.
pub fn free_null<M: Malloc>(heap: &M) -> Result<(), String> {
    // SAFETY: null is always allowed.
    unsafe { heap.free(core::ptr::null_mut()) };
    checked(heap, "after free(null)")?;
    let p = new_block(heap, 100, 1)?;
    // SAFETY: null is always allowed.
    unsafe { heap.free(core::ptr::null_mut()) };
    verify(p, 1, 100, "a block, after free(null)")?;
    release(heap, p)
}

/// `realloc(null, n)` is `malloc(n)`.
pub fn realloc_null<M: Malloc>(heap: &M) -> Result<(), String> {
    for &size in SIZES {
        // SAFETY: null is always allowed.
        let p = unsafe { heap.realloc(core::ptr::null_mut(), size) };
        if p.is_null() {
            return Err(format!("realloc(null, {size}) returned null"));
        }
        aligned(p, ALIGN)?;
        usable(heap, p, size)?;
        // SAFETY: a fresh block of at least `size` bytes.
        unsafe { fill::fill(p, 2, size) };
        checked(heap, &format!("after realloc(null, {size})"))?;
        verify(p, 2, size, "realloc(null, n)'s block")?;
        release(heap, p)?;
    }
    Ok(())
}

/// `realloc(p, 0)` frees `p` and returns null (glibc's choice).
pub fn realloc_to_zero<M: Malloc>(heap: &M) -> Result<(), String> {
    for &size in &[0, 1, 100, 5000] {
        let p = new_block(heap, size, 3)?;
        // SAFETY: a live block of this heap.
        let q = unsafe { heap.realloc(p, 0) };
        if !q.is_null() {
            return Err(format!(
                "realloc(p, 0) returned {q:p}, not null (p held {size} bytes)"
            ));
        }
        checked(heap, &format!("after realloc(p, 0) of a {size}-byte block"))?;
    }
    Ok(())
}

/// Growing and then shrinking a block with `realloc` keeps its data.
pub fn realloc_keeps_data<M: Malloc>(heap: &M) -> Result<(), String> {
    let mut p = new_block(heap, 1, 4)?;
    let mut size = 1;
    // Up through every size, then down again.
    // (Not to 0: realloc(p, 0) frees.)
    let path = SIZES
        .iter()
        .skip(2)
        .chain(SIZES.iter().rev().skip(1))
        .filter(|&&n| n > 0);
    for &next in path {
        // Another block between reallocs, so that a moving realloc cannot
        // always grow in place at the top of the heap.
        let neighbour = new_block(heap, 48, 5)?;
        // SAFETY: a live block of this heap.
        let q = unsafe { heap.realloc(p, next) };
        if q.is_null() {
            return Err(format!("realloc from {size} to {next} bytes returned null"));
        }
        aligned(q, ALIGN)?;
        usable(heap, q, next)?;
        // SAFETY: `q` has at least `next` bytes, more than the prefix covers.
        unsafe { fill::check(q, 4, &fill::sampled_prefix(size, next)) }
            .map_err(|wrong| format!("realloc from {size} to {next} bytes: {wrong}"))?;
        verify(neighbour, 5, 48, "a neighbour of a reallocated block")?;
        // SAFETY: `q` has at least `next` bytes.
        unsafe { fill::fill(q, 4, next) };
        checked(heap, &format!("after realloc from {size} to {next} bytes"))?;
        release(heap, neighbour)?;
        (p, size) = (q, next);
    }
    release(heap, p)
}

/// `calloc` returns zeroed memory, fresh or reused.
pub fn calloc_zeroes<M: Malloc>(heap: &M) -> Result<(), String> {
    for &size in SIZES {
        let p = heap.calloc(1, size);
        zeroed(heap, p, size, &format!("calloc(1, {size})"))?;
        release(heap, p)?;
        let p = heap.calloc(size, 1);
        zeroed(heap, p, size, &format!("calloc({size}, 1)"))?;
        release(heap, p)?;
    }
    let p = heap.calloc(10, 100);
    zeroed(heap, p, 1000, "calloc(10, 100)")?;
    release(heap, p)
}

/// `calloc` zeroes memory even when it reuses a freed, dirty block.
pub fn calloc_zeroes_reused<M: Malloc>(heap: &M) -> Result<(), String> {
    for &size in SIZES {
        let dirty = heap.malloc(size);
        if dirty.is_null() {
            return Err(format!("malloc({size}) returned null"));
        }
        // SAFETY: a fresh block of at least `size` bytes.
        unsafe { dirty.write_bytes(0xAB, size) };
        release(heap, dirty)?;
        let p = heap.calloc(1, size);
        zeroed(
            heap,
            p,
            size,
            &format!("calloc(1, {size}) after freeing a dirty block"),
        )?;
        release(heap, p)?;
    }
    Ok(())
}

/// `calloc` refuses a `count * size` that overflows, instead of wrapping.
pub fn calloc_overflow<M: Malloc>(heap: &M) -> Result<(), String> {
    let cases = [
        (usize::MAX, 2),
        (2, usize::MAX / 2 + 1),
        (1 << 32, 1 << 32),
        (usize::MAX, usize::MAX),
        // Wrapped around, these would ask for 16 and for 0 bytes.
        ((1 << 60) + 1, 16),
        (1 << 60, 16),
    ];
    for (count, size) in cases {
        let p = heap.calloc(count, size);
        if !p.is_null() {
            return Err(format!(
                "calloc({count}, {size}) overflows, yet returned {p:p}"
            ));
        }
        checked(heap, &format!("after calloc({count}, {size})"))?;
    }
    Ok(())
}

/// `memalign` honours every power of two from 1 to 1 MiB, for small and
/// big sizes, and the blocks are writable and disjoint.
pub fn memalign_every_power<M: Malloc>(heap: &M) -> Result<(), String> {
    let mut blocks = Vec::new();
    for shift in 0..=20 {
        let align = 1usize << shift;
        let sizes: &[usize] = if cfg!(miri) {
            &[1, align + 1]
        } else {
            &[1, 100, align + 1]
        };
        for &size in sizes {
            let p = heap.memalign(align, size);
            if p.is_null() {
                return Err(format!("memalign({align}, {size}) returned null"));
            }
            aligned(p, align)?;
            usable(heap, p, size)?;
            let id = blocks.len() + 100;
            // SAFETY: a fresh block of at least `size` bytes.
            unsafe { fill::fill(p, id, size) };
            checked(heap, &format!("after memalign({align}, {size})"))?;
            blocks.push((p, id, size));
        }
    }
    for &(p, id, size) in &blocks {
        verify(p, id, size, "a memalign block, after more memaligns")?;
    }
    for (p, _, _) in blocks {
        release(heap, p)?;
    }
    Ok(())
}

/// `memalign` with an alignment that is not a power of two returns null.
pub fn memalign_rejects_bad_alignment<M: Malloc>(heap: &M) -> Result<(), String> {
    for align in [0, 3, 24, 48, 100, 4097, usize::MAX] {
        let p = heap.memalign(align, 64);
        if !p.is_null() {
            return Err(format!("memalign({align}, 64) returned {p:p}, not null"));
        }
        checked(heap, &format!("after memalign({align}, 64)"))?;
    }
    Ok(())
}

/// Impossible requests return null, with no panic and no wrapped-around
/// small block; a failed realloc leaves the block as it was.
pub fn huge_requests_fail<M: Malloc>(heap: &M) -> Result<(), String> {
    let keep = new_block(heap, 64, 6)?;
    for &size in HUGE {
        let tries = [
            ("malloc", heap.malloc(size)),
            ("calloc(1, n)", heap.calloc(1, size)),
            ("memalign(16, n)", heap.memalign(16, size)),
            ("memalign(4096, n)", heap.memalign(4096, size)),
            (
                "memalign(n / 2 + 1, 16) (a huge alignment)",
                heap.memalign(size / 2 + 1, 16),
            ),
            (
                "memalign(2^63, 16) (a huge power of two)",
                heap.memalign(1 << (usize::BITS - 1), 16),
            ),
        ];
        for (call, p) in tries {
            if !p.is_null() {
                return Err(format!(
                    "{call} with n = {size:#x} returned {p:p}, not null"
                ));
            }
        }
        // SAFETY: a live block of this heap.
        let p = unsafe { heap.realloc(keep, size) };
        if !p.is_null() {
            return Err(format!("realloc(p, {size:#x}) returned {p:p}, not null"));
        }
        verify(
            keep,
            6,
            64,
            &format!("a block after realloc to {size:#x} failed"),
        )?;
        checked(heap, &format!("after requests of {size:#x} bytes"))?;
    }
    let huge_align = heap.memalign(1 << 62, 16);
    if !huge_align.is_null() {
        return Err(format!(
            "memalign(1 << 62, 16) returned {huge_align:p}, not null"
        ));
    }
    release(heap, keep)
}

/// The heap check sees a block header that a buggy program overwrote (as
/// malloc lab's `mm_checkheap` must): `check()` is the tool every other
/// test leans on, so a check that always says "fine" must not pass.
pub fn check_finds_a_broken_header<M: Malloc>(heap: &M) -> Result<(), String> {
    let blocks: Vec<*mut u8> = (0..5)
        .map(|id| new_block(heap, 64, id))
        .collect::<Result<_, _>>()?;
    let victim = blocks[2].wrapping_sub(ALIGN);
    let mut saved = [0u8; ALIGN];
    // SAFETY: the ALIGN bytes before a payload are its block's header, in
    // the allocator's own memory; they are put back before any other call.
    unsafe {
        victim.copy_to_nonoverlapping(saved.as_mut_ptr(), ALIGN);
        victim.write_bytes(0xA5, ALIGN);
    }
    let verdict = heap.check();
    // SAFETY: as above.
    unsafe { victim.copy_from_nonoverlapping(saved.as_ptr(), ALIGN) };
    if verdict.is_ok() {
        return Err(
            "check() said the heap is fine after the header before a live block was \
             overwritten with 0xA5 bytes"
                .to_string(),
        );
    }
    checked(heap, "after the header was put back")?;
    for p in blocks {
        release(heap, p)?;
    }
    Ok(())
}

/// `usable_size(p)` is at least the size asked, and all of it is writable.
pub fn usable_size_covers_request<M: Malloc>(heap: &M) -> Result<(), String> {
    let mut blocks = Vec::new();
    for (i, &size) in SIZES.iter().enumerate() {
        let p = new_block(heap, size, i)?;
        // SAFETY: a live block of this heap.
        let usable = unsafe { heap.usable_size(p) };
        // SAFETY: `usable` bytes belong to the block.
        unsafe { fill::fill(p, i, usable) };
        checked(
            heap,
            &format!("after filling all {usable} usable bytes of malloc({size})"),
        )?;
        blocks.push((p, i, usable));
    }
    // A usable size that lies spoils a neighbour's pattern.
    for &(p, id, usable) in &blocks {
        verify(p, id, usable, "a block filled to its usable size")?;
    }
    // SAFETY: null is allowed and has no usable bytes.
    let null_usable = unsafe { heap.usable_size(core::ptr::null_mut()) };
    if null_usable != 0 {
        return Err(format!("usable_size(null) is {null_usable}, not 0"));
    }
    for (p, _, _) in blocks {
        release(heap, p)?;
    }
    Ok(())
}

/// `malloc(size)`, checked and filled with the pattern of `id`.
fn new_block<M: Malloc>(heap: &M, size: usize, id: usize) -> Result<*mut u8, String> {
    let p = heap.malloc(size);
    if p.is_null() {
        return Err(format!("malloc({size}) returned null"));
    }
    aligned(p, ALIGN)?;
    usable(heap, p, size)?;
    // SAFETY: a fresh block of at least `size` bytes.
    unsafe { fill::fill(p, id, size) };
    checked(heap, &format!("after malloc({size})"))?;
    Ok(p)
}

/// Frees `p` and checks the heap.
fn release<M: Malloc>(heap: &M, p: *mut u8) -> Result<(), String> {
    // SAFETY: the callers pass live blocks of this heap.
    unsafe { heap.free(p) };
    checked(heap, "after free")
}

/// The block at `p` holds the pattern of `id` over its first `len` bytes.
fn verify(p: *mut u8, id: usize, len: usize, what: &str) -> Result<(), String> {
    // SAFETY: the callers pass live blocks with at least `len` bytes.
    unsafe { fill::check(p, id, &fill::sampled(len)) }.map_err(|wrong| format!("{what}: {wrong}"))
}

/// `p` is a non-null block of `len` zero bytes.
fn zeroed<M: Malloc>(heap: &M, p: *mut u8, len: usize, call: &str) -> Result<(), String> {
    if p.is_null() {
        return Err(format!("{call} returned null"));
    }
    aligned(p, ALIGN)?;
    usable(heap, p, len)?;
    // SAFETY: a live block of at least `len` bytes (checked above).
    unsafe { fill::check_zero(p, len) }.map_err(|wrong| format!("{call}: {wrong}"))?;
    checked(heap, &format!("after {call}"))
}

fn aligned(p: *mut u8, align: usize) -> Result<(), String> {
    if !(p as usize).is_multiple_of(align) {
        return Err(format!("{p:p} is not aligned to {align}"));
    }
    Ok(())
}

fn usable<M: Malloc>(heap: &M, p: *mut u8, size: usize) -> Result<(), String> {
    // SAFETY: the callers pass live blocks of this heap.
    let usable = unsafe { heap.usable_size(p) };
    if usable < size {
        return Err(format!(
            "usable_size({p:p}) is {usable}, less than the {size} bytes asked"
        ));
    }
    Ok(())
}

/// `heap.check()`, with the heap map in the message if it fails.
fn checked<M: Malloc>(heap: &M, when: &str) -> Result<(), String> {
    heap.check().map_err(|error| {
        let mut map = String::new();
        let _ = heap.heap_map(&mut map);
        format!("{error} ({when})\nheap map:\n{map}")
    })
}
