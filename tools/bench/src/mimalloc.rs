//! mimalloc behind the [`Malloc`] trait, through its C functions.
//!
//! `libmimalloc-sys` (the C half of the `mimalloc` crate) compiles mimalloc
//! into this program; its `mi_*` functions have C `malloc` semantics, so
//! each method is one call.

use core::ffi::c_void;
use core::fmt;

use libmimalloc_sys as mi;
use malloc_core::{ALIGN, HeapError, Malloc, Stats};

/// mimalloc, the fast modern reference of the benchmarks.
///
/// Its [`stats`](Malloc::stats) give only the footprint: mimalloc's own
/// count of committed memory, now and at its peak (`mi_process_info`; on
/// Linux an estimate: the read/write memory it reserved). Like glibc's, it
/// counts the whole process, not one instance.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mimalloc;

// SAFETY: mimalloc's functions keep the C malloc contract: distinct live
// blocks, aligned to at least 16 bytes on 64-bit machines, valid until freed.
unsafe impl Malloc for Mimalloc {
    fn malloc(&self, size: usize) -> *mut u8 {
        // SAFETY: mi_malloc accepts any size.
        unsafe { mi::mi_malloc(size).cast() }
    }

    unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: the caller passes null or a live block of mimalloc's.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, size: usize) -> *mut u8 {
        if !ptr.is_null() && size == 0 {
            // C's realloc(p, 0) as glibc does it: free, and return null
            // (mi_realloc would return a fresh minimal block).
            // SAFETY: the caller passes a live block of mimalloc's.
            unsafe { mi::mi_free(ptr.cast::<c_void>()) };
            return core::ptr::null_mut();
        }
        // SAFETY: the caller passes null or a live block of mimalloc's.
        unsafe { mi::mi_realloc(ptr.cast::<c_void>(), size).cast() }
    }

    fn calloc(&self, count: usize, size: usize) -> *mut u8 {
        // SAFETY: mi_calloc checks the product itself.
        unsafe { mi::mi_calloc(count, size).cast() }
    }

    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        if !align.is_power_of_two() {
            return core::ptr::null_mut();
        }
        // SAFETY: `align` is a power of two, as mi_malloc_aligned requires.
        unsafe { mi::mi_malloc_aligned(size, align.max(ALIGN)).cast() }
    }

    unsafe fn usable_size(&self, ptr: *mut u8) -> usize {
        // SAFETY: the caller passes null or a live block of mimalloc's.
        unsafe { mi::mi_usable_size(ptr.cast_const().cast::<c_void>()) }
    }

    fn stats(&self) -> Stats {
        let (mut commit, mut peak) = (0usize, 0usize);
        let null = core::ptr::null_mut();
        // SAFETY: every out-parameter is null (skipped) or a valid place to
        // write a usize.
        unsafe {
            mi::mi_process_info(null, null, null, null, null, &mut commit, &mut peak, null);
        }
        Stats {
            heap_bytes: commit,
            footprint_peak: peak,
            ..Stats::default()
        }
    }

    fn check(&self) -> Result<(), HeapError> {
        Ok(())
    }

    fn heap_map(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(out, "mimalloc keeps its heap to itself")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_c_contract() {
        let m = Mimalloc;
        let p = m.malloc(100);
        assert!(!p.is_null());
        assert_eq!(p as usize % ALIGN, 0);
        // SAFETY: `p` is a live block of 100 bytes.
        unsafe {
            p.write_bytes(7, 100);
            assert!(m.usable_size(p) >= 100);
            let q = m.realloc(p, 5000);
            assert_eq!(*q.add(99), 7);
            assert!(m.realloc(q, 0).is_null());
        }
        let a = m.memalign(4096, 10);
        assert_eq!(a as usize % 4096, 0);
        // SAFETY: `a` is live.
        unsafe { m.free(a) };
        assert!(m.memalign(48, 10).is_null());
        assert!(m.calloc(usize::MAX, 2).is_null());
        assert!(m.stats().footprint_peak > 0);
    }
}
