//! The fast path: `malloc` and `free` of small blocks through the calling
//! thread's cache, and the lock taken only to move blocks between the cache
//! and the heap in batches.

use core::ptr;
use core::sync::atomic::Ordering;

use malloc_core::{ALIGN, Break, Pages};

use crate::bins::{next_link, write_link};
use crate::block::{HEADER, Header, Tag};
use crate::cache::{self, Batch, SHARED_DEPTH, ThreadCache, class_of};
use crate::misuse::misuse;
use crate::{Heap, Threaded};

impl<S: Break, P: Pages> Threaded<S, P> {
    // ANCHOR: fast_malloc
    /// A small block from this thread's cache, or from the heap (under the
    /// lock) when the cache has none of its class. `None`: not a small
    /// request, or no cache (too many threads, or the debug mode).
    #[inline]
    pub(crate) fn cached_malloc(&self, size: usize) -> Option<*mut u8> {
        let class = class_of(size)?;
        let cache = self.caches.mine()?;
        let header = match cache.pop(class, size) {
            Some(header) => header,
            None if self.debug.load(Ordering::Relaxed) => return None,
            None => return Some(self.refill(size)),
        };
        // SAFETY: a cached block is ours, and this thread's alone. Only its
        // size changes: its tag is still `Live`, and the heap may be setting
        // a flag in the same word (see `Header`).
        unsafe { (*header).set_size(size) };
        Some(header.cast::<u8>().wrapping_add(HEADER))
    }

    /// Keeps the live block at `header` in this thread's cache, giving the
    /// cache's newest blocks of its class back to the heap if it is full.
    /// False: the block is not for a cache (large, mapped, the debug mode).
    ///
    /// # Safety
    ///
    /// `header` is a live block of ours, which the program gives back.
    #[inline]
    pub(crate) unsafe fn cached_free(&self, header: *mut Header) -> bool {
        // SAFETY: the caller gives a live block of ours.
        let block = unsafe { &*header };
        if block.tag() != Some(Tag::Live) || self.debug.load(Ordering::Relaxed) {
            return false;
        }
        self.refuse_if_cached("free", header);
        // The block's usable size is a multiple of 16: its exact class.
        let (Some(class), Some(cache)) = (class_of(block.usable()), self.caches.mine()) else {
            return false;
        };
        let depth = self.depth.load(Ordering::Relaxed);
        // SAFETY: the caller gives the block back; nobody uses it now.
        if unsafe { cache.push(class, header, block.size(), depth) } {
            return true;
        }
        self.flush(cache, class, depth / 2);
        // SAFETY: as above; the bin has room now.
        unsafe { cache.push(class, header, block.size(), depth) }
    }
    // ANCHOR_END: fast_malloc

    // ANCHOR: refill
    /// Serves a malloc of `size` bytes from the heap, for a thread whose
    /// cache has no block of its class. A thread that finds the lock taken
    /// raises every cache's depth: threads compete.
    #[cold]
    fn refill(&self, size: usize) -> *mut u8 {
        let mut heap = self.heap.try_lock().unwrap_or_else(|| {
            self.depth.store(SHARED_DEPTH, Ordering::Relaxed);
            self.heap.lock()
        });
        self.free_waiting(&mut heap);
        let block = heap.alloc(size, ALIGN);
        if heap.settings.debugging() {
            // Every block through the heap, where the checks are.
            self.debug.store(true, Ordering::Relaxed);
        }
        block
    }
    // ANCHOR_END: refill

    // EXERCISE BODY: flush
    // ANCHOR: flush
    /// Gives the newest blocks of the full bin `class` back to the heap
    /// without taking the lock: the batch goes on the list of frees that
    /// wait for the next thread that takes it (one compare-and-swap).
    #[cold]
    fn flush(&self, cache: &ThreadCache, class: usize, count: usize) {
        // The bin of class `class` is full: take its `count` newest blocks out
        // (`cache.take_newest`), clear each one's key word, and put the whole chain
        // on the heap's list of waiting frees (`self.waiting`) without taking the
        // lock: link the chain's last block to the blocks already waiting, then
        // swing the list's head to the chain's first block with one
        // compare-and-swap, trying again if another thread changed the head
        // meanwhile.
        todo!("hole `flush`");
    }
    // ANCHOR_END: flush

    // ANCHOR: free_waiting
    /// Frees the blocks waiting on the list `flush` fills, under the lock
    /// the caller holds.
    pub(crate) fn free_waiting(&self, heap: &mut Heap<S, P>) {
        if self.waiting.load(Ordering::Relaxed).is_null() {
            return;
        }
        let chain = self.waiting.swap(ptr::null_mut(), Ordering::Acquire);
        for header in Batch::from(chain) {
            // SAFETY: a block a cache gave back: live for the heap, with a
            // requested size of 0, and nobody uses it.
            unsafe { heap.free(header.cast::<u8>().wrapping_add(HEADER)) };
        }
    }
    // ANCHOR_END: free_waiting

    /// Stops the program if the live-looking block at `header` is in this
    /// thread's cache: freed already (glibc's "double free detected in
    /// tcache 2").
    #[inline]
    pub(crate) fn refuse_if_cached(&self, function: &str, header: *mut Header) {
        // SAFETY: a live block has at least 16 payload bytes.
        if unsafe { cache::key_word(header).read() } != cache::KEY {
            return;
        }
        // SAFETY: a live block's header is valid.
        if let Some(class) = class_of(unsafe { (*header).usable() })
            && let Some(cache) = self.caches.mine()
            && cache.holds(class, header)
        {
            let payload = header.cast::<u8>().wrapping_add(HEADER);
            misuse(function, payload, "the block was already freed");
        }
    }
}
