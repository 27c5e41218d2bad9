//! Stage 1 (bump) against the whole suite: on a simulated break, on a
//! simulated break where someone else takes memory every third growth, and
//! on the real program break (which glibc moves too, in a test process).

use malloc_core::{Malloc, SimBreak};
use stage1_bump::Bump;

conformance::suite!(sim, || Bump::with_source(SimBreak::new()));
conformance::suite!(sim_foreign_gaps, || Bump::with_source(
    SimBreak::new().with_foreign_gaps(3)
));
conformance::suite!(real_break, Bump::new);

/// The picture the book shows of a bump heap after a few calls.
#[test]
fn heap_map_after_fixed_sequence() {
    let heap = Bump::with_source(SimBreak::new());
    let a = heap.malloc(10);
    let b = heap.malloc(100);
    let c = heap.calloc(4, 16);
    let d = heap.memalign(256, 40);
    // SAFETY: live blocks of this heap.
    let b = unsafe {
        heap.free(a);
        heap.realloc(b, 300)
    };
    let e = heap.malloc(5000);
    assert!([b, c, d, e].iter().all(|p| !p.is_null()));
    let mut map = String::new();
    heap.heap_map(&mut map).expect("writing to a String");
    insta::assert_snapshot!(map);
}
