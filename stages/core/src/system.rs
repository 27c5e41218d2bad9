//! The system malloc (glibc) behind the [`Malloc`] trait: the oracle of the
//! differential tests and the baseline of every measurement.

use core::fmt;

use crate::{HeapError, Malloc, Stats};

/// The C library's own allocator, called through `libc`.
///
/// Its [`stats`](Malloc::stats) come from glibc's `mallinfo2`: bytes from the
/// break (`arena`), bytes mapped (`hblkhd`) and bytes in use (`uordblks` +
/// `hblkhd`). It counts the whole process, not one instance, and has no
/// operation counts or peaks; take snapshots to follow it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemMalloc;

/// Whether Miri would stop the program for a request of `bytes` (with
/// "resource exhaustion", where glibc returns null): under Miri, requests
/// of more than 1 TiB get null without asking.
fn too_big_for_miri(bytes: usize) -> bool {
    cfg!(miri) && bytes > 1 << 40
}

// SAFETY: glibc's malloc keeps the Malloc contract (it is the contract).
unsafe impl Malloc for SystemMalloc {
    fn malloc(&self, size: usize) -> *mut u8 {
        if too_big_for_miri(size) {
            return core::ptr::null_mut();
        }
        // SAFETY: malloc accepts any size.
        unsafe { libc::malloc(size).cast() }
    }

    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: the caller passes null or a live block of glibc's.
        unsafe { libc::free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        // `realloc(p, 0)` is undefined behaviour in C23 (Miri stops there);
        // glibc frees the block and returns null, so say that in Rust.
        if size == 0 && !ptr.is_null() {
            // SAFETY: the caller passes a live block of glibc's.
            unsafe { libc::free(ptr.cast()) };
            return core::ptr::null_mut();
        }
        if too_big_for_miri(size) {
            return core::ptr::null_mut(); // A failed realloc keeps the block.
        }
        // SAFETY: the caller passes null or a live block of glibc's.
        unsafe { libc::realloc(ptr.cast(), size).cast() }
    }

    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        if too_big_for_miri(count.saturating_mul(size)) {
            return core::ptr::null_mut();
        }
        // SAFETY: calloc checks the product itself.
        unsafe { libc::calloc(count, size).cast() }
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        let mut out: *mut libc::c_void = core::ptr::null_mut();
        if !align.is_power_of_two() || too_big_for_miri(size.saturating_add(align)) {
            return out.cast();
        }
        let align = align.max(core::mem::size_of::<usize>());
        // SAFETY: `align` is a power of two and a multiple of the pointer
        // size, as posix_memalign requires; `out` is a valid place to write.
        if unsafe { libc::posix_memalign(&mut out, align, size) } != 0 {
            return core::ptr::null_mut();
        }
        out.cast()
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: the caller passes null or a live block of glibc's.
        unsafe { libc::malloc_usable_size(ptr.cast()) }
    }

    fn stats(&self) -> Stats {
        // SAFETY: mallinfo2 only reads glibc's counters.
        let info = unsafe { libc::mallinfo2() };
        Stats {
            heap_bytes: info.arena,
            mapped_bytes: info.hblkhd,
            footprint_peak: info.arena + info.hblkhd,
            live_bytes: info.uordblks + info.hblkhd,
            live_peak: info.uordblks + info.hblkhd,
            ..Stats::default()
        }
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(out, "the system malloc keeps its heap to itself")
    }
}

#[cfg(test)]
mod tests {
    use super::SystemMalloc;
    use crate::Malloc;

    #[test]
    #[cfg_attr(miri, ignore = "mallinfo2 is a C call Miri cannot run")]
    fn the_system_stats_come_from_mallinfo2() {
        let heap = SystemMalloc;
        // Above the highest mmap threshold glibc moves to (32 MiB): a
        // mapping of its own.
        // black_box: an optimizer may drop a malloc whose block is unused.
        let p = core::hint::black_box(heap.malloc(64 << 20));
        assert!(!p.is_null());
        let stats = heap.stats();
        // SAFETY: a live block of the system malloc.
        unsafe { heap.free(p) };
        assert!(stats.mapped_bytes >= 64 << 20, "{stats:?}");
        assert!(
            stats.heap_bytes > 0,
            "this process has used its heap: {stats:?}"
        );
        assert_eq!(stats.footprint_peak, stats.heap_bytes + stats.mapped_bytes);
        assert!(stats.live_bytes >= 64 << 20, "{stats:?}");
        assert_eq!(stats.live_peak, stats.live_bytes);
    }

    #[test]
    fn the_system_heap_map_says_why_it_is_empty() {
        extern crate std;
        let mut map = std::string::String::new();
        SystemMalloc.heap_map(&mut map).unwrap();
        assert_eq!(map, "the system malloc keeps its heap to itself\n");
    }
}
