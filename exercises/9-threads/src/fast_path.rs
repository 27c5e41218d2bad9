//! The fast path: `malloc` and `free` of small blocks through the calling
//! thread's cache, and the lock taken only to move blocks between the cache
//! and the heap in batches.

use core::sync::atomic::Ordering;

use malloc_core::{ALIGN, Break, Pages};

use crate::Threaded;
use crate::block::{HEADER, Header, Tag};
use crate::cache::{self, ThreadCache, class_of, class_size};
use crate::misuse::misuse;

impl<S: Break, P: Pages> Threaded<S, P> {
    // ANCHOR: fast_malloc
    /// A small block from this thread's cache, refilled from the heap when
    /// it runs dry. `None`: not a small request, or no cache (too many
    /// threads, or the debug mode): take the lock.
    #[inline]
    pub(crate) fn cached_malloc(&self, size: usize) -> Option<*mut u8> {
        let class = class_of(size)?;
        let cache = self.caches.mine()?;
        let header = match cache.pop(class, size) {
            Some(header) => header,
            None if self.debug.load(Ordering::Relaxed) => return None,
            None => return Some(self.refill(cache, class, size)),
        };
        // SAFETY: a cached block is ours, and this thread's alone. Only its
        // size changes: its tag is still `Live`, and the heap may be setting
        // a flag in the same word (see `Header`).
        unsafe { (*header).size = size };
        Some(header.cast::<u8>().wrapping_add(HEADER))
    }

    /// Keeps the live block at `header` in this thread's cache, giving the
    /// cache's oldest blocks of its class back to the heap if it is full.
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
        // SAFETY: the caller gives the block back; nobody uses it now.
        if unsafe { cache.push(class, header, block.size) } {
            return true;
        }
        self.flush(cache, class);
        // SAFETY: as above; the bin has room now.
        unsafe { cache.push(class, header, block.size) }
    }
    // ANCHOR_END: fast_malloc

    // EXERCISE BODY: refill
    // ANCHOR: refill
    /// Serves a malloc of `size` bytes (class `class`) from the heap, and
    /// takes a few more blocks of the class for the cache while the lock
    /// is held: a thread that keeps allocating takes the lock once per
    /// batch, not once per block.
    #[cold]
    fn refill(&self, cache: &ThreadCache, class: usize, size: usize) -> *mut u8 {
        // Under one lock: serve the request from the heap, and unless the debug
        // mode is on, take `refill_size(class) - 1` more blocks of the class for the
        // cache (each counted by the heap as a block of 0 bytes).
        todo!("hole `refill`");
    }

    /// Gives the oldest blocks of the full bin `class` back to the heap,
    /// under one lock.
    #[cold]
    fn flush(&self, cache: &ThreadCache, class: usize) {
        let batch = cache.take_oldest(class);
        let mut heap = self.heap.lock();
        for header in batch {
            // SAFETY: a cached block is a live block of ours that nobody
            // uses; its requested size is 0, as the heap counts it.
            unsafe {
                cache::key_word(header).write(0);
                heap.free(header.cast::<u8>().wrapping_add(HEADER));
            }
        }
    }
    // ANCHOR_END: refill

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
