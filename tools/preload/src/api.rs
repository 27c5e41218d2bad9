//! The C malloc API over any [`Malloc`], with glibc's semantics.
//!
//! The stage does the allocating; this layer adds what C promises on top:
//! `errno` set to `ENOMEM` on failure, the checks of `calloc`,
//! `reallocarray` and the aligned allocators, and `realloc(p, 0)` freeing `p`
//! and returning null, as glibc does. When a trace is being recorded, each
//! call holds the recorder while the stage works, so that the order of the
//! recorded ops is the order in which blocks really changed hands.

use core::ffi::{c_int, c_void};
use core::ptr;

use malloc_core::Malloc;

use crate::trace;

/// Sets the calling thread's `errno`.
fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = code };
}

/// Returns `p`, setting `errno` to `ENOMEM` if it is null.
fn or_enomem(p: *mut u8) -> *mut c_void {
    if p.is_null() {
        set_errno(libc::ENOMEM);
    }
    p.cast()
}

/// The page size, for `valloc` and `pvalloc`.
fn page_size() -> usize {
    malloc_core::os::page_size()
}

/// `malloc(size)`.
pub fn malloc<M: Malloc>(m: &M, size: usize) -> *mut c_void {
    let p = match trace::recorder() {
        Some(mut rec) => {
            let p = m.malloc(size);
            rec.malloc(size, p);
            p
        }
        None => m.malloc(size),
    };
    or_enomem(p)
}

/// `free(ptr)`.
///
/// # Safety
///
/// `ptr` is null or a live block of `m`.
pub unsafe fn free<M: Malloc>(m: &M, ptr: *mut c_void) {
    let ptr = ptr.cast::<u8>();
    if ptr.is_null() {
        return; // Not recorded: it changes nothing.
    }
    match trace::recorder() {
        Some(mut rec) => {
            // SAFETY: the caller's promise.
            unsafe { m.free(ptr) };
            rec.free(ptr);
        }
        // SAFETY: the caller's promise.
        None => unsafe { m.free(ptr) },
    }
}

/// `calloc(count, size)`: null and `ENOMEM` if the product overflows.
pub fn calloc<M: Malloc>(m: &M, count: usize, size: usize) -> *mut c_void {
    if count.checked_mul(size).is_none() {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let p = match trace::recorder() {
        Some(mut rec) => {
            let p = m.calloc(count, size);
            rec.calloc(count, size, p);
            p
        }
        None => m.calloc(count, size),
    };
    or_enomem(p)
}

/// `realloc(ptr, size)`: `realloc(null, n)` is `malloc(n)`; `realloc(p, 0)`
/// frees `p` and returns null (errno untouched), as glibc does.
///
/// # Safety
///
/// `ptr` is null or a live block of `m`.
pub unsafe fn realloc<M: Malloc>(m: &M, ptr: *mut c_void, size: usize) -> *mut c_void {
    let old = ptr.cast::<u8>();
    if old.is_null() {
        return malloc(m, size);
    }
    if size == 0 {
        // SAFETY: the caller's promise.
        unsafe { free(m, ptr) };
        return ptr::null_mut();
    }
    let new = match trace::recorder() {
        Some(mut rec) => {
            // SAFETY: the caller's promise.
            let new = unsafe { m.realloc(old, size) };
            rec.realloc(old, size, new);
            new
        }
        // SAFETY: the caller's promise.
        None => unsafe { m.realloc(old, size) },
    };
    or_enomem(new)
}

/// `reallocarray(ptr, count, size)`: `realloc` with an overflow check (on
/// overflow `ptr` stays as it is).
///
/// # Safety
///
/// `ptr` is null or a live block of `m`.
pub unsafe fn reallocarray<M: Malloc>(
    m: &M,
    ptr: *mut c_void,
    count: usize,
    size: usize,
) -> *mut c_void {
    match count.checked_mul(size) {
        // SAFETY: the caller's promise.
        Some(bytes) => unsafe { realloc(m, ptr, bytes) },
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// The aligned allocators' common part: `align` is a power of two here.
fn aligned<M: Malloc>(m: &M, align: usize, size: usize) -> *mut u8 {
    match trace::recorder() {
        Some(mut rec) => {
            let p = m.memalign(align, size);
            rec.memalign(align, size, p);
            p
        }
        None => m.memalign(align, size),
    }
}

/// `posix_memalign(out, align, size)`: `EINVAL` unless `align` is a power of
/// two and a multiple of `sizeof(void *)`; `ENOMEM` if there is no memory.
/// It returns the error instead of setting `errno`, and leaves `*out` alone
/// on failure.
///
/// # Safety
///
/// `out` is valid for writing a pointer.
pub unsafe fn posix_memalign<M: Malloc>(
    m: &M,
    out: *mut *mut c_void,
    align: usize,
    size: usize,
) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<*mut c_void>()) {
        return libc::EINVAL;
    }
    let p = aligned(m, align, size);
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: the caller's promise.
    unsafe { out.write(p.cast()) };
    0
}

/// `aligned_alloc(align, size)`: `EINVAL` unless `align` is a power of two
/// (as glibc 2.38 and later; any size is accepted, as C17 allows).
pub fn aligned_alloc<M: Malloc>(m: &M, align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    }
    or_enomem(aligned(m, align, size))
}

/// `memalign(align, size)`: as glibc, an alignment that is not a power of
/// two is rounded up to one; `EINVAL` if that is impossible.
pub fn memalign<M: Malloc>(m: &M, align: usize, size: usize) -> *mut c_void {
    let Some(align) = align.max(1).checked_next_power_of_two() else {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    };
    or_enomem(aligned(m, align, size))
}

/// `valloc(size)`: page-aligned.
pub fn valloc<M: Malloc>(m: &M, size: usize) -> *mut c_void {
    or_enomem(aligned(m, page_size(), size))
}

/// `pvalloc(size)`: page-aligned, size rounded up to whole pages.
pub fn pvalloc<M: Malloc>(m: &M, size: usize) -> *mut c_void {
    let page = page_size();
    let Some(rounded) = size.checked_add(page - 1) else {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    };
    or_enomem(aligned(m, page, rounded & !(page - 1)))
}

/// `malloc_usable_size(ptr)`: 0 for null.
///
/// # Safety
///
/// `ptr` is null or a live block of `m`.
pub unsafe fn usable_size<M: Malloc>(m: &M, ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: the caller's promise.
    unsafe { m.usable_size(ptr.cast()) }
}
