//! The thread cache: small blocks without the lock, given back to the heap
//! in batches.
//!
//! Every `malloc` and `free` of stage 8 takes the heap's lock. With one
//! thread, taking a free lock is an atomic instruction: most of the cost of
//! a small malloc+free pair. With two threads on two processors it is worse:
//! the lock's cache line travels between them on every call, and a thread
//! that finds the lock taken must wait. glibc avoids the lock with its
//! *tcache*: each thread keeps a few freed blocks of each small size for
//! itself, and serves them again without any lock.
//!
//! Here each allocator has [`SLOTS`] caches; a thread claims one on first use
//! (an atomic compare-and-swap, once) and from then on frees up to [`DEPTH`]
//! blocks per class into it and takes them back out, with plain loads and
//! stores. A cache is found from the address of a thread-local byte, which no
//! two live threads share; when a thread exits, the next thread given the
//! same address inherits its cache and the blocks in it.
//!
//! A thread that only allocates (a producer) or only frees (a consumer of
//! another thread's blocks) cannot live on its cache: the producer's is
//! always empty, the consumer's always full. The producer takes the lock at
//! each malloc, as in stage 8; the consumer does not take it at all: a full
//! class gives half of its blocks back at once, onto the heap's list of
//! *waiting* frees with one compare-and-swap, and the next thread that
//! takes the lock frees them (see `fast_path`). Once threads have been
//! seen waiting for the lock, every cache keeps up to [`SHARED_DEPTH`]
//! blocks per class instead of [`DEPTH`]: a deeper cache goes to the heap
//! less often, and a single-threaded program does not pay its memory.
//!
//! The heap sees a cached block as handed out: its tag stays `Live` (only
//! the heap, under its lock, writes tags), its requested size is 0, and its
//! second payload word holds [`KEY`], as glibc's tcache marks its entries,
//! so that a second `free` of it can be recognised (see [`ThreadCache::holds`]).
//! The cache counts what passed through it, so that the stats and the heap
//! check can tell the program's blocks from the cached ones.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::bins::{next_link, read_link, write_link};
use crate::block::{HEADER, Header};

// ANCHOR: classes
/// The cached sizes: every multiple of 16 up to 1024, as the heap's exact
/// bins. A small request is rounded up to one of these.
pub const CLASSES: usize = 64;

/// The class of a request of `size` bytes, or `None` if it is not small.
/// Computed, not searched: this runs on every `malloc`.
#[inline]
pub fn class_of(size: usize) -> Option<usize> {
    if size > 16 * CLASSES {
        return None;
    }
    Some(size.saturating_sub(1) / 16)
}
// ANCHOR_END: classes

/// Caches per allocator: threads beyond this many use the lock every time.
pub const SLOTS: usize = 64;

/// Blocks a cache keeps per class before it gives some back, while the
/// threads do not compete for the heap's lock (glibc's tcache keeps 7).
pub const DEPTH: usize = 8;

/// The same, once threads have been seen waiting for the lock: a deeper
/// cache goes to the heap less often. Measured on two threads churning
/// 1,000 small blocks each: the lock taken at 0.8% of calls with 16 blocks
/// per class, at 0.03% with 32.
pub const SHARED_DEPTH: usize = 32;

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

/// Counters a cache keeps, written only by its owner (plain loads and
/// stores), read by anyone for the stats and the heap check.
pub struct Counters {
    /// Mallocs the cache served.
    pub mallocs: AtomicUsize,
    /// Frees the cache kept.
    pub frees: AtomicUsize,
    /// Blocks the cache gave back to the heap.
    pub flushed: AtomicUsize,
    /// What the heap's count of live bytes is off by: bytes requested of
    /// blocks taken out, less those of blocks put in (may wrap).
    pub bytes: AtomicUsize,
}

/// One thread's cache. Aligned to 128 bytes (two cache lines, which x86
/// processors fetch in pairs): two threads writing their own caches never
/// write the same line, which would make each wait for the other ("false
/// sharing").
#[repr(align(128))]
pub struct ThreadCache {
    /// The key of the thread that uses it (0: nobody yet).
    owner: AtomicUsize,
    bins: UnsafeCell<[Bin; CLASSES]>,
    /// What passed through it.
    pub counters: Counters,
}

/// Blocks on their way from a cache to the heap: a chain linked like a
/// bin, its last link null.
pub struct Batch {
    head: *mut Header,
}

impl Batch {
    /// The chain starting at `head` (null: empty).
    pub fn from(head: *mut Header) -> Batch {
        Batch { head }
    }

    /// Its first block.
    pub fn first(&self) -> *mut Header {
        self.head
    }
}

impl Iterator for Batch {
    type Item = *mut Header;
    fn next(&mut self) -> Option<*mut Header> {
        let header = self.head;
        if header.is_null() {
            return None;
        }
        // SAFETY: a block of the chain holds a link (the last one null).
        self.head = unsafe { read_link(next_link(header)) };
        Some(header)
    }
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
                }; CLASSES],
            ),
            counters: Counters {
                mallocs: AtomicUsize::new(0),
                frees: AtomicUsize::new(0),
                flushed: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
            },
        }
    }

    /// Bin `class`, for its owner.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    fn bin(&self, class: usize) -> &mut Bin {
        // SAFETY: only the owning thread touches the bins (see
        // `Caches::mine`), and it holds one reference at a time.
        unsafe { &mut (*self.bins.get())[class] }
    }

    // EXERCISE BODY: pop
    // EXERCISE BODY: push
    // ANCHOR: cache_pop_push
    /// Takes a cached block of class `class` for `size` bytes, if there is one.
    #[inline]
    pub fn pop(&self, class: usize, size: usize) -> Option<*mut Header> {
        let bin = self.bin(class);
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
        add(&self.counters.mallocs, 1);
        add(&self.counters.bytes, size);
        Some(header)
    }

    /// Keeps a freed block of class `class` (which held `size` requested
    /// bytes); false if the bin already holds `depth` blocks.
    ///
    /// # Safety
    ///
    /// `header` is a block of ours that the program no longer uses.
    #[inline]
    pub unsafe fn push(
        &self,
        class: usize,
        header: *mut Header,
        size: usize,
        depth: usize,
    ) -> bool {
        let bin = self.bin(class);
        if bin.len >= depth {
            return false;
        }
        // SAFETY: the block's payload is no longer used: it holds the link
        // and the key (every block has at least 16 payload bytes). Its size
        // word is written only by its owner, which is now this cache.
        unsafe {
            write_link(next_link(header), bin.head);
            key_word(header).write(KEY);
            (*header).set_size(0);
        }
        bin.head = header;
        bin.len += 1;
        add(&self.counters.frees, 1);
        add(&self.counters.bytes, size.wrapping_neg()); // minus `size`, wrapping
        true
    }
    // ANCHOR_END: cache_pop_push

    /// Takes the `count` newest blocks of bin `class` (which holds more),
    /// to give them back to the heap: a chain, linked as in the bin, its
    /// last link null.
    pub fn take_newest(&self, class: usize, count: usize) -> Batch {
        let bin = self.bin(class);
        let head = bin.head;
        let mut last = head;
        for _ in 1..count {
            // SAFETY: cached blocks hold a link.
            last = unsafe { read_link(next_link(last)) };
        }
        // SAFETY: as above; the chain ends at `last`.
        unsafe {
            bin.head = read_link(next_link(last));
            write_link(next_link(last), ptr::null_mut());
        }
        bin.len -= count;
        add(&self.counters.flushed, count);
        Batch { head }
    }

    /// Bin `class`: its newest block (null if none) and how many it holds.
    pub fn contents(&self, class: usize) -> (*mut Header, usize) {
        let bin = self.bin(class);
        (bin.head, bin.len)
    }

    /// Whether `header` is in bin `class` of this cache: a freed block
    /// carries [`KEY`], but so might a program's data by chance, so the bin
    /// is searched before anything is called a double free.
    pub fn holds(&self, class: usize, header: *mut Header) -> bool {
        let bin = self.bin(class);
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

/// What all the caches did, added up (see [`Counters`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// Mallocs the caches served.
    pub mallocs: usize,
    /// Frees the caches kept.
    pub frees: usize,
    /// Blocks the caches gave back.
    pub flushed: usize,
    /// The correction to the heap's live bytes.
    pub bytes: usize,
    /// Caches claimed by a thread (or abandoned in a `fork`'s child).
    pub claimed: usize,
}

impl Totals {
    /// Blocks in the caches now.
    pub fn held(&self) -> usize {
        self.frees.wrapping_sub(self.mallocs + self.flushed)
    }
}

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
        self.places(key).find(|slot| {
            let owner = slot.owner.load(Ordering::Acquire);
            owner == key
                || owner == 0
                    && slot
                        .owner
                        .compare_exchange(0, key, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
        })
    }

    /// The slots a thread with `key` may use: its place and the next few.
    #[inline]
    fn places(&self, key: usize) -> impl Iterator<Item = &ThreadCache> {
        // Thread-local addresses of different threads lie far apart: mix
        // the bits so that neighbouring threads get different places.
        let place = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
        (0..PROBES).map(move |i| &self.slots[(place + i) % SLOTS])
    }
    // ANCHOR_END: mine

    /// The calling thread's cache if it claimed one, without claiming one
    /// (for the heap check).
    pub fn claimed(&self) -> Option<&ThreadCache> {
        let key = thread_key();
        self.places(key)
            .find(|slot| slot.owner.load(Ordering::Acquire) == key)
    }

    /// In the child after `fork`: gives up the caches of the parent's other
    /// threads, with the blocks in them. Those threads may have stopped
    /// half-way through a change to their cache (a block taken out but not
    /// yet counted), and a thread the child starts may be given one of their
    /// keys, as the C library hands their stacks out again. The blocks stay
    /// lost to the child, as other threads' caches are in glibc's.
    pub fn abandon_others(&self) {
        let key = thread_key();
        for slot in &self.slots {
            let owner = slot.owner.load(Ordering::Relaxed);
            if owner != 0 && owner != key {
                slot.owner.store(ABANDONED, Ordering::Relaxed);
            }
        }
    }

    /// Over every cache: what passed through them.
    pub fn totals(&self) -> Totals {
        let read = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        self.slots.iter().fold(Totals::default(), |t, slot| {
            let c = &slot.counters;
            Totals {
                mallocs: t.mallocs.wrapping_add(read(&c.mallocs)),
                frees: t.frees.wrapping_add(read(&c.frees)),
                flushed: t.flushed.wrapping_add(read(&c.flushed)),
                bytes: t.bytes.wrapping_add(read(&c.bytes)),
                claimed: t.claimed + usize::from(read(&slot.owner) != 0),
            }
        })
    }
}

/// The owner of a cache whose thread was lost in a `fork`: no thread has
/// this key (no byte of a thread's own lies at the last address).
const ABANDONED: usize = usize::MAX;

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
