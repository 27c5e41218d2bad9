//! The C malloc API over any stage, as an `LD_PRELOAD` library.
//!
//! `LD_PRELOAD=libworkbook_stage3.so python3 ...` makes every `malloc`,
//! `free`, `realloc`... of the program (and of the C library itself) go to
//! stage 3. This crate holds the C functions, generic over
//! [`Malloc`](malloc_core::Malloc), and the [`export!`] macro; each stage has
//! a three-line `cdylib` crate (`tools/preload/stage1` ...) that invokes it.
//! The stage crates themselves export no C symbols, so a test binary that
//! links a stage never replaces its own malloc by accident.
//!
//! # Why no block from glibc's malloc ever reaches our `free`
//!
//! The dynamic loader resolves every reference to `malloc`, `free`, ... in
//! the program and in every library (the C library's own internal calls
//! included: glibc supports replacing malloc) to the first definition in
//! search order: the program, then the `LD_PRELOAD` libraries, then the rest.
//! So from the first call on, all of them are ours, and glibc's malloc is
//! never even initialised. The one exception is the loader itself: before it
//! has relocated the program it uses a tiny malloc of its own (in its own
//! memory), and it switches to the program's `malloc` once relocation is done.
//! The few blocks it took before are never freed through ours. So our `free`
//! only ever sees our blocks, and glibc's `free` never sees one.
//!
//! # Rules for everything here
//!
//! These functions run inside every program, from any thread, before `main`
//! and after `exit`: they never allocate (text is formatted into stack or
//! static buffers and written with `write(2)`), use no `thread_local!`, and
//! are written not to panic (the library is built with `panic = "abort"`,
//! profile `preload`, so a panic could not unwind into C anyway).
//!
//! # Environment
//!
//! - `WORKBOOK_STATS=1`: print the allocator's counters on stderr at exit.
//! - `WORKBOOK_TRACE=FILE`: record the program's allocations in `FILE`, in the
//!   malloc lab's `.rep` format ([`trace`]).
//! - `WORKBOOK_TRACE_PARENT=PID`: record only in the process whose parent is
//!   `PID` (`cargo workbook run` sets it to its own pid, so only the program
//!   it starts is recorded, not that program's children).

pub mod api;
mod fork;
mod ids;
mod stats;
mod text;
pub mod trace;

use core::ffi::{CStr, c_char};
use core::sync::atomic::{AtomicBool, Ordering};

use malloc_core::Malloc;

pub use fork::{fork_child, fork_parent, fork_prepare};

/// Whether to print the counters at exit (`WORKBOOK_STATS=1`).
static STATS: AtomicBool = AtomicBool::new(false);

/// The functions a library registers when it is loaded; the [`export!`]
/// macro makes them, since each needs the library's own allocator.
pub struct Hooks {
    /// `pthread_atfork` prepare handler: takes the locks.
    pub prepare: unsafe extern "C" fn(),
    /// `pthread_atfork` parent handler: releases them.
    pub parent: unsafe extern "C" fn(),
    /// `pthread_atfork` child handler: releases them in the child.
    pub child: unsafe extern "C" fn(),
    /// `atexit` handler: finishes the trace, prints the counters.
    pub at_exit: extern "C" fn(),
}

/// Runs once when the library is loaded (from `.init_array`): registers the
/// fork handlers and reads the environment.
///
/// # Safety
///
/// `envp` is the null-terminated environment array the loader passes to
/// initialisers (or null), and this is called once.
pub unsafe fn init(envp: *const *const c_char, hooks: Hooks) {
    // SAFETY: the handlers are plain functions that live as long as the
    // library (which is never unloaded: it provides malloc).
    unsafe { libc::pthread_atfork(Some(hooks.prepare), Some(hooks.parent), Some(hooks.child)) };
    // SAFETY: the caller passes the loader's environment array.
    let stats = unsafe { env(envp, b"WORKBOOK_STATS") }.is_some_and(|v| v.to_bytes() == b"1");
    if stats {
        stats::keep_stderr();
    }
    STATS.store(stats, Ordering::Relaxed);
    // SAFETY: as above.
    let trace = unsafe { env(envp, b"WORKBOOK_TRACE") }.filter(|v| !v.is_empty());
    // SAFETY: as above.
    let parent = unsafe { env(envp, b"WORKBOOK_TRACE_PARENT") };
    // SAFETY: getppid has no preconditions.
    let our_parent = unsafe { libc::getppid() };
    let ours = parent.is_none_or(|p| parse_pid(p.to_bytes()) == Some(our_parent));
    let tracing = match trace {
        Some(path) if ours => trace::start(path),
        _ => false,
    };
    if stats || tracing {
        // SAFETY: `at_exit` is a plain function living as long as the library.
        unsafe { libc::atexit(hooks.at_exit) };
    }
}

/// Runs at exit: finishes the trace and prints the counters if asked.
pub fn at_exit<M: Malloc>(m: &M, stage: u32) {
    trace::finish();
    if STATS.load(Ordering::Relaxed) {
        stats::print(stage, &m.stats());
    }
}

/// The value of the environment variable `name`, if set.
///
/// # Safety
///
/// `envp` is null or a null-terminated array of NUL-terminated strings.
unsafe fn env(envp: *const *const c_char, name: &[u8]) -> Option<&'static CStr> {
    if envp.is_null() {
        return None;
    }
    let mut i = 0;
    loop {
        // SAFETY: the array is null-terminated and we stop at the null.
        let entry = unsafe { *envp.add(i) };
        if entry.is_null() {
            return None;
        }
        // SAFETY: every entry is a NUL-terminated string that lives as long
        // as the process.
        let text = unsafe { CStr::from_ptr(entry) };
        let bytes = text.to_bytes();
        if bytes.len() > name.len() && bytes.starts_with(name) && bytes[name.len()] == b'=' {
            // SAFETY: the value is the tail of the same NUL-terminated string.
            return Some(unsafe { CStr::from_ptr(entry.add(name.len() + 1)) });
        }
        i += 1;
    }
}

/// A decimal process id, or `None`.
fn parse_pid(digits: &[u8]) -> Option<libc::pid_t> {
    let mut pid: libc::pid_t = 0;
    if digits.is_empty() {
        return None;
    }
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        pid = pid
            .checked_mul(10)?
            .checked_add(libc::pid_t::from(d - b'0'))?;
    }
    Some(pid)
}

/// Exports the C malloc API over one stage's allocator: the whole body of a
/// stage's preload crate.
///
/// ```ignore
/// preload::export!(3, stage3_freelist::FreeLists, stage3_freelist::FreeLists::new());
/// ```
///
/// It defines the allocator as a `static`, the glibc "replacing malloc"
/// functions (`malloc`, `free`, `calloc`, `realloc`, `reallocarray`,
/// `posix_memalign`, `aligned_alloc`, `memalign`, `valloc`, `pvalloc`,
/// `malloc_usable_size`), and an initialiser in `.init_array` that calls
/// [`init`].
#[macro_export]
macro_rules! export {
    ($stage:literal, $type:ty, $new:expr) => {
        /// The one allocator of this library.
        static HEAP: $type = $new;

        /// C `malloc`.
        #[unsafe(no_mangle)]
        pub extern "C" fn malloc(size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::malloc(&HEAP, size)
        }

        /// C `free`.
        ///
        /// # Safety
        ///
        /// `ptr` is null or a live block from this library.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn free(ptr: *mut ::core::ffi::c_void) {
            // SAFETY: the caller's promise, passed on.
            unsafe { $crate::api::free(&HEAP, ptr) }
        }

        /// C `calloc`.
        #[unsafe(no_mangle)]
        pub extern "C" fn calloc(count: usize, size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::calloc(&HEAP, count, size)
        }

        /// C `realloc`.
        ///
        /// # Safety
        ///
        /// `ptr` is null or a live block from this library.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn realloc(
            ptr: *mut ::core::ffi::c_void,
            size: usize,
        ) -> *mut ::core::ffi::c_void {
            // SAFETY: the caller's promise, passed on.
            unsafe { $crate::api::realloc(&HEAP, ptr, size) }
        }

        /// C `reallocarray`.
        ///
        /// # Safety
        ///
        /// `ptr` is null or a live block from this library.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn reallocarray(
            ptr: *mut ::core::ffi::c_void,
            count: usize,
            size: usize,
        ) -> *mut ::core::ffi::c_void {
            // SAFETY: the caller's promise, passed on.
            unsafe { $crate::api::reallocarray(&HEAP, ptr, count, size) }
        }

        /// C `posix_memalign`.
        ///
        /// # Safety
        ///
        /// `out` is valid for writing a pointer.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn posix_memalign(
            out: *mut *mut ::core::ffi::c_void,
            align: usize,
            size: usize,
        ) -> ::core::ffi::c_int {
            // SAFETY: the caller's promise, passed on.
            unsafe { $crate::api::posix_memalign(&HEAP, out, align, size) }
        }

        /// C `aligned_alloc`.
        #[unsafe(no_mangle)]
        pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::aligned_alloc(&HEAP, align, size)
        }

        /// glibc `memalign`.
        #[unsafe(no_mangle)]
        pub extern "C" fn memalign(align: usize, size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::memalign(&HEAP, align, size)
        }

        /// glibc `valloc`.
        #[unsafe(no_mangle)]
        pub extern "C" fn valloc(size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::valloc(&HEAP, size)
        }

        /// glibc `pvalloc`.
        #[unsafe(no_mangle)]
        pub extern "C" fn pvalloc(size: usize) -> *mut ::core::ffi::c_void {
            $crate::api::pvalloc(&HEAP, size)
        }

        /// glibc `malloc_usable_size`.
        ///
        /// # Safety
        ///
        /// `ptr` is null or a live block from this library.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn malloc_usable_size(ptr: *mut ::core::ffi::c_void) -> usize {
            // SAFETY: the caller's promise, passed on.
            unsafe { $crate::api::usable_size(&HEAP, ptr) }
        }

        /// Takes the locks before `fork`.
        unsafe extern "C" fn workbook_fork_prepare() {
            $crate::fork_prepare(&HEAP)
        }

        /// Releases them in the parent after `fork`.
        unsafe extern "C" fn workbook_fork_parent() {
            // SAFETY: called by fork after the prepare handler.
            unsafe { $crate::fork_parent(&HEAP) }
        }

        /// Releases them in the child after `fork`.
        unsafe extern "C" fn workbook_fork_child() {
            // SAFETY: called by fork after the prepare handler.
            unsafe { $crate::fork_child(&HEAP) }
        }

        /// Finishes the trace and prints the counters.
        extern "C" fn workbook_at_exit() {
            $crate::at_exit(&HEAP, $stage)
        }

        /// Runs when the library is loaded; glibc passes initialisers the
        /// program's arguments and environment.
        extern "C" fn workbook_init(
            _argc: ::core::ffi::c_int,
            _argv: *const *const ::core::ffi::c_char,
            envp: *const *const ::core::ffi::c_char,
        ) {
            let hooks = $crate::Hooks {
                prepare: workbook_fork_prepare,
                parent: workbook_fork_parent,
                child: workbook_fork_child,
                at_exit: workbook_at_exit,
            };
            // SAFETY: the loader calls this once, with its environment array.
            unsafe { $crate::init(envp, hooks) }
        }

        /// Makes the loader call `workbook_init` when the library is loaded.
        #[used]
        #[unsafe(link_section = ".init_array")]
        static WORKBOOK_INIT: extern "C" fn(
            ::core::ffi::c_int,
            *const *const ::core::ffi::c_char,
            *const *const ::core::ffi::c_char,
        ) = workbook_init;
    };
}
