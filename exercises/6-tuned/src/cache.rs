//! The thread cache: small blocks without the lock.
//!
//! Every `malloc` and `free` of stages 1 to 5 takes the heap's lock, and
//! taking a lock is an atomic instruction: on the machines this course was
//! measured on, it is most of the cost of a small malloc+free pair. glibc
//! avoids it with its *tcache*: each thread keeps a few freed blocks of each
//! small size for itself, and serves them again without any lock.
//!
//! Here each allocator has [`SLOTS`] caches; a thread claims one on first use
//! (an atomic compare-and-swap, once) and from then on frees up to [`DEPTH`]
//! blocks per class into it and takes them back out, with plain loads and
//! stores. A cache is found from the address of a thread-local byte, which no
//! two live threads share; when a thread exits, the next thread given the
//! same address inherits its cache and the blocks in it.
//!
//! The heap sees a cached block as handed out: its tag stays `Live` (only
//! the heap, under its lock, writes tags), its requested size is 0, and its
//! second payload word holds [`KEY`], as glibc's tcache marks its entries,
//! so that a second `free` of it can be recognised (see [`ThreadCache::holds`]).
//! The cache counts the blocks and bytes that passed through it, so that
//! the stats and the heap check can add them back.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::CLASSES;
use crate::block::{HEADER, Header};
use crate::free_list::{next_link, read_link, write_link};

/// Caches per allocator: threads beyond this many use the lock every time.
pub const SLOTS: usize = 64;

/// Blocks a cache keeps per class (glibc's tcache keeps 7).
pub const DEPTH: usize = 7;

/// Slots a thread tries before giving up (its own place, then neighbours).
const PROBES: usize = 4;

/// The mark in the second payload word of a cached block. glibc draws its
/// `tcache_key` at random at start-up, so that a program cannot forge it;
/// a constant keeps this lesson simple.
pub const KEY: usize = 0x7ca5_4e0f_d00d_b10c;

/// Where a cached block keeps [`KEY`]: its second payload word.
#[inline]
pub fn key_word(header: *mut Header) -> *mut usize {
    header.cast::<u8>().wrapping_add(HEADER + 8).cast()
}

/// A short LIFO list of free blocks of one class, linked through payloads.
#[derive(Clone, Copy)]
struct Bin {
    head: *mut Header,
    len: usize,
}

/// One thread's cache.
pub struct ThreadCache {
    /// The key of the thread that uses it (0: nobody yet).
    owner: AtomicUsize,
    bins: UnsafeCell<[Bin; CLASSES.len()]>,
    /// Bytes requested of blocks taken, minus those put in (may wrap).
    pub bytes: AtomicUsize,
    /// Mallocs served by this cache (blocks taken out).
    pub mallocs: AtomicUsize,
    /// Frees kept by this cache (blocks put in).
    pub frees: AtomicUsize,
}

impl ThreadCache {
    /// An unclaimed, empty cache.
    const fn empty() -> ThreadCache {
        ThreadCache {
            owner: AtomicUsize::new(0),
            bins: UnsafeCell::new(
                [Bin {
                    head: ptr::null_mut(),
                    len: 0,
                }; CLASSES.len()],
            ),
            bytes: AtomicUsize::new(0),
            mallocs: AtomicUsize::new(0),
            frees: AtomicUsize::new(0),
        }
    }

    // ANCHOR: cache_pop_push
    /// Takes a cached block of class `class` for `size` bytes, if there is one.
    #[inline]
    pub fn pop(&self, class: usize, size: usize) -> Option<*mut Header> {
        // SAFETY: only the owning thread touches the bins (see `Caches::mine`).
        let bin = unsafe { &mut (*self.bins.get())[class] };
        if bin.len == 0 {
            return None;
        }
        let header = bin.head;
        // SAFETY: a cached block is ours, holding a link and the key.
        unsafe {
            bin.head = read_link(next_link(header));
            key_word(header).write(0);
        }
        bin.len -= 1;
        add(&self.mallocs, 1);
        add(&self.bytes, size);
        Some(header)
    }

    /// Keeps a freed block of class `class` (which held `size` requested
    /// bytes); false if the bin is full.
    ///
    /// # Safety
    ///
    /// `header` is a block of ours that the program no longer uses.
    #[inline]
    pub unsafe fn push(&self, class: usize, header: *mut Header, size: usize) -> bool {
        // SAFETY: only the owning thread touches the bins.
        let bin = unsafe { &mut (*self.bins.get())[class] };
        if bin.len == DEPTH {
            return false;
        }
        // SAFETY: the block's payload is no longer used: it holds the link
        // and the key (every block has at least 16 payload bytes). Its size
        // word is written only by its owner, which is now this cache.
        unsafe {
            write_link(next_link(header), bin.head);
            key_word(header).write(KEY);
            (*header).size = 0;
        }
        bin.head = header;
        bin.len += 1;
        add(&self.frees, 1);
        add(&self.bytes, size.wrapping_neg()); // minus `size`, wrapping
        true
    }
    // ANCHOR_END: cache_pop_push

    /// Whether `header` is in bin `class` of this cache: a freed block
    /// carries [`KEY`], but so might a program's data by chance, so the bin
    /// is searched before anything is called a double free.
    pub fn holds(&self, class: usize, header: *mut Header) -> bool {
        // SAFETY: only the owning thread touches the bins.
        let bin = unsafe { &(*self.bins.get())[class] };
        let mut at = bin.head;
        for _ in 0..bin.len {
            if at == header {
                return true;
            }
            // SAFETY: cached blocks hold a link.
            at = unsafe { read_link(next_link(at)) };
        }
        false
    }
}

/// Adds to a counter only its owner writes: a plain load and store, no
/// atomic read-modify-write (that is the instruction the cache avoids).
#[inline]
fn add(counter: &AtomicUsize, n: usize) {
    let value = counter.load(Ordering::Relaxed).wrapping_add(n);
    counter.store(value, Ordering::Relaxed);
}

/// All the thread caches of one allocator.
pub struct Caches {
    slots: [ThreadCache; SLOTS],
}

// SAFETY: a slot's bins are used only by the thread whose key is in its
// `owner`, claimed with a compare-and-swap; no two live threads share a key.
// The counters are atomics.
unsafe impl Sync for Caches {}

// SAFETY: the bins point into the allocator's own heap, which moves with it.
unsafe impl Send for Caches {}

impl Caches {
    /// No cache claimed yet.
    pub const fn new() -> Self {
        Caches {
            slots: [const { ThreadCache::empty() }; SLOTS],
        }
    }

    // ANCHOR: mine
    /// The calling thread's cache: the slot it claimed before, or a free
    /// one near its place, claimed now. `None` if those are all taken.
    #[inline]
    pub fn mine(&self) -> Option<&ThreadCache> {
        let key = thread_key();
        // Thread-local addresses of different threads lie far apart: mix
        // the bits so that neighbouring threads get different places.
        let place = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
        (0..PROBES)
            .map(|i| &self.slots[(place + i) % SLOTS])
            .find(|slot| {
                let owner = slot.owner.load(Ordering::Acquire);
                owner == key
                    || owner == 0
                        && slot
                            .owner
                            .compare_exchange(0, key, Ordering::Acquire, Ordering::Relaxed)
                            .is_ok()
            })
    }
    // ANCHOR_END: mine

    /// Every slot, claimed or not (for counting).
    pub fn all(&self) -> impl Iterator<Item = &ThreadCache> {
        self.slots.iter()
    }

    /// Over every cache: blocks taken out, blocks put in, and the bytes
    /// taken out minus the bytes put in (wrapping).
    pub fn totals(&self) -> (usize, usize, usize) {
        let read = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        self.all().fold((0, 0, 0), |(m, f, b), cache| {
            (
                m + read(&cache.mallocs),
                f + read(&cache.frees),
                b.wrapping_add(read(&cache.bytes)),
            )
        })
    }
}

/// A number no other live thread has: the address of a thread-local byte.
#[inline]
fn thread_key() -> usize {
    // Thread-locals need std; the rest of the stage does not.
    extern crate std;
    std::thread_local! {
        // `const` and without `Drop`: reading it registers no destructor.
        static KEY: u8 = const { 0 };
    }
    KEY.with(|key| key as *const u8 as usize)
}
