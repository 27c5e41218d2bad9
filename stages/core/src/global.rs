//! The adapter that lets any stage serve a Rust program.
//!
//! ```ignore
//! #[global_allocator]
//! static HEAP: GlobalMalloc<stage1_bump::Bump> = GlobalMalloc(stage1_bump::Bump::new());
//! ```

use core::alloc::{GlobalAlloc, Layout};

use crate::{ALIGN, Malloc};

/// Wraps a [`Malloc`] so that Rust's `alloc` crate can use it.
///
/// Rust tells `dealloc` the size and alignment, C's `free` is not told;
/// the adapter drops that knowledge and asks for alignment only when a
/// `Layout` needs more than [`ALIGN`].
pub struct GlobalMalloc<M>(pub M);

// SAFETY: the `Malloc` contract (valid, disjoint, aligned blocks) is what
// `GlobalAlloc` asks for; alignment above `ALIGN` goes through `memalign`.
unsafe impl<M: Malloc> GlobalAlloc for GlobalMalloc<M> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= ALIGN {
            self.0.malloc(layout.size())
        } else {
            self.0.memalign(layout.align(), layout.size())
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= ALIGN {
            self.0.calloc(1, layout.size())
        } else {
            let p = self.0.memalign(layout.align(), layout.size());
            if !p.is_null() {
                // SAFETY: `p` is a fresh block of `layout.size()` bytes.
                unsafe { p.write_bytes(0, layout.size()) };
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: Rust only deallocates what this allocator allocated.
        unsafe { self.0.free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= ALIGN {
            // SAFETY: `ptr` is a live block of ours; `new_size` is non-zero
            // (GlobalAlloc's contract), so C realloc will not free it.
            return unsafe { self.0.realloc(ptr, new_size) };
        }
        // C realloc only promises ALIGN: move by hand to keep the alignment.
        // SAFETY: the new layout is valid (GlobalAlloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid non-zero-size layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and hold at least the
            // bytes copied.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.0.free(ptr);
            }
        }
        new
    }
}
