//! Ordinary Rust work on a stage installed as `#[global_allocator]`: every
//! allocation of the test program (collections, strings, threads, the test
//! harness itself) goes through the stage. See [`global_allocator_tests!`].
//!
//! [`global_allocator_tests!`]: crate::global_allocator_tests

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Once;
use std::time::Duration;

use malloc_core::Stats;

/// Installs `$make` (of type `$ty`) as the global allocator of the test
/// program that invokes it, and adds the tests of this module:
///
/// ```ignore
/// conformance::global_allocator_tests!(stage1_bump::Bump, stage1_bump::Bump::new());
/// ```
#[macro_export]
macro_rules! global_allocator_tests {
    ($ty:ty, $make:expr) => {
        // Miri cannot run the real sources (sbrk, mmap): under Miri the
        // program keeps its own allocator and these tests are skipped.
        #[cfg_attr(not(miri), global_allocator)]
        static HEAP: $crate::malloc_core::GlobalMalloc<$ty> =
            $crate::malloc_core::GlobalMalloc($make);

        #[test]
        #[cfg_attr(miri, ignore = "the real sources: Miri cannot run sbrk or mmap")]
        fn collections_and_strings_work() {
            $crate::global::watchdog();
            $crate::global::collections_and_strings(|| $crate::malloc_core::Malloc::stats(&HEAP.0));
        }

        #[test]
        #[cfg_attr(miri, ignore = "the real sources: Miri cannot run sbrk or mmap")]
        fn threads_work() {
            $crate::global::watchdog();
            $crate::global::threads(|| $crate::malloc_core::Malloc::stats(&HEAP.0));
        }
    };
}

/// How long a test program with a stage as its global allocator may run
/// (it takes a second or two). A panic inside the allocator cannot unwind
/// there: the panic machinery allocates while the allocator's lock is held,
/// and the program waits forever. The watchdog makes that a failure.
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// Starts, once per program, a thread that stops the program, with a
/// message, if it still runs after [`WATCHDOG`].
pub fn watchdog() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            std::thread::sleep(WATCHDOG);
            // No formatting, no allocation: the allocator may be stuck.
            let message = b"still running after 30 s, with the stage as the global \
                allocator: a hang (a panic inside the allocator?)\n";
            // SAFETY: writes a static buffer to stderr.
            unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
            std::process::abort();
        });
    });
}

/// Collections, strings, formatting, big alignments: ordinary Rust work,
/// checked, with `stats` the global allocator's counters.
pub fn collections_and_strings(stats: impl Fn() -> Stats) {
    let before = stats().mallocs;

    let mut squares: Vec<u64> = (0..10_000).map(|i| i * i).collect();
    squares.reverse();
    squares.sort_unstable();
    assert_eq!(squares[9_999], 9_999 * 9_999);
    assert_eq!(
        squares.iter().sum::<u64>(),
        (0..10_000u64).map(|i| i * i).sum()
    );

    let mut words: HashMap<String, usize> = HashMap::new();
    let text = "the quick brown fox jumps over the lazy dog the end";
    for word in text.split_whitespace() {
        *words.entry(word.to_string()).or_default() += 1;
    }
    assert_eq!(words["the"], 3);
    assert_eq!(words.len(), 9);

    let mut text = String::new();
    for i in 0..1000 {
        write!(text, "{i},").expect("writing to a String");
    }
    assert_eq!(text.len(), 10 + 90 * 2 + 900 * 3 + 1000);
    assert!(text.starts_with("0,1,2,") && text.ends_with("998,999,"));

    let tree: BTreeMap<String, Vec<u8>> = (0..500)
        .map(|i| (format!("key {i:04}"), vec![i as u8; i % 37]))
        .collect();
    assert_eq!(tree.keys().next().map(String::as_str), Some("key 0000"));
    assert_eq!(tree["key 0036"].len(), 36);

    let boxed: Vec<Box<[u8]>> = (0..100)
        .map(|i| vec![7u8; i * 100].into_boxed_slice())
        .collect();
    assert!(
        boxed
            .iter()
            .enumerate()
            .all(|(i, b)| b.len() == i * 100 && b.iter().all(|&x| x == 7))
    );

    // Rust asks for alignments above 16 too; the adapter uses memalign.
    #[repr(align(4096))]
    struct Page([u8; 4096]);
    let pages: Vec<Box<Page>> = (0..8).map(|_| Box::new(Page([1; 4096]))).collect();
    assert!(
        pages
            .iter()
            .all(|p| (&**p as *const Page as usize).is_multiple_of(4096) && p.0[4095] == 1)
    );

    let after = stats().mallocs;
    assert!(
        after > before,
        "the global allocator served no allocation ({before} -> {after})"
    );
}

/// Four threads building, sorting and joining strings.
pub fn threads(stats: impl Fn() -> Stats) {
    let results: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                scope.spawn(move || {
                    let mut v: Vec<String> = (0..2000).map(|i| format!("{t}-{i}")).collect();
                    v.sort();
                    v.dedup();
                    v.join(",")
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker thread"))
            .collect()
    });
    for (t, joined) in results.iter().enumerate() {
        assert_eq!(joined.split(',').count(), 2000);
        assert!(joined.starts_with(&format!("{t}-0,{t}-1,{t}-10,")));
    }
    let stats = stats();
    assert!(
        stats.mallocs > 0,
        "the global allocator served no allocation"
    );
    assert!(
        stats.heap_bytes > 0,
        "the global allocator took no memory from the break"
    );
}
