/// The fixed sequence whose heap map each stage's snapshot shows (and the
/// book prints): a few calls that touch every stage's idea.
pub fn fixed_sequence<M: Malloc + ?Sized>(heap: &M) -> String {
    let a = heap.malloc(10);
    let b = heap.malloc(100);
    let c = heap.calloc(2, 8);
    let d = heap.memalign(256, 40);
    // SAFETY: live blocks of `heap`, each freed at most once.
    let live = unsafe {
        heap.free(a);
        let b = heap.realloc(b, 300);
        let e = heap.malloc(5000);
        let f = heap.malloc(12); // stage 3 on: takes a's place
        heap.free(e);
        let g = heap.malloc(48); // stage 4 on: splits b's old block
        let h = heap.malloc(200_000); // stage 5 on: a mapping of its own
        [b, c, d, f, g, h]
    };
    assert!(
        live.iter().all(|p| !p.is_null()),
        "the fixed sequence failed"
    );
    let mut map = String::new();
    heap.heap_map(&mut map).expect("writing to a String");
    map
}
