//! The built book in a real browser: headless Chromium (Debian's package
//! `chromium`), driven over the DevTools protocol by `headless_chrome`.
//!
//! Pages are opened from `file://`, as a reader opens `target/book`
//! offline, with a fresh profile. Before any page script runs, a listener
//! records JavaScript errors and resources that fail to load. Then:
//!
//! - every page loads with no error and no broken image;
//! - every benchmark chart's labels, measured with the real fonts at the
//!   chart's own width (750 px), are at least 11 px, clear of each other
//!   and of the cells they do not belong to;
//! - the heap explorer, on `book/drills/split.rep` with stages 3 and 4 side
//!   by side, steps forward with its buttons and the arrow key, and draws
//!   after each op exactly the blocks the stages' own maps say
//!   ([`workbook_book::explore`]), which change as the trace says.
//!
//! Without Chromium the test fails and says how to install it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use headless_chrome::browser::tab::point::Point;
use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use workbook_book::explore::{self, Block};

/// How to install what this test needs, for its failure message.
const INSTALL: &str = "apt-get install -y chromium";

/// Records errors from the first line of every page on: script errors,
/// unhandled promise rejections, and elements whose file did not load
/// (those `error` events do not bubble, so the listener captures).
const WATCH: &str = r#"
window.__problems = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && t.nodeType === 1) {
    window.__problems.push('cannot load <' + t.nodeName.toLowerCase() + '> ' +
      (t.getAttribute('src') || t.getAttribute('href')));
  } else {
    window.__problems.push('JavaScript error: ' + e.message + ' (' + e.filename + ':' + e.lineno + ')');
  }
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__problems.push('unhandled promise rejection: ' + e.reason);
});
"#;

/// Once the page has loaded: its address (without the fragment) and
/// what is wrong on it, recorded errors and broken images.
const LOADED: &str = r#"new Promise(function (resolve) {
  function done() {
    resolve(JSON.stringify({
      at: location.href.split('#')[0],
      problems: (window.__problems || ['the error listener did not run']).concat(
        Array.from(document.images)
          .filter(function (i) { return !i.complete || i.naturalWidth === 0; })
          .map(function (i) { return 'broken image ' + i.getAttribute('src'); }))
    }));
  }
  if (document.readyState === 'complete') { done(); } else { window.addEventListener('load', done); }
})"#;

/// A chart's labels as the browser lays them out: text at least 11 px,
/// inside the picture, clear of other labels (half a pixel of slack for
/// rounding) and of marks, inside the mark it is written in.
const CHART_PROBLEMS: &str = r#"(function () {
  var svg = document.documentElement;
  var problems = [];
  var width = svg.width.baseVal.value;
  if (width > 750) { problems.push('the chart is ' + width + ' px wide, over 750'); }
  var box = function (el) { var b = el.getBBox(); return { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height }; };
  var overlap = function (a, b, slack) {
    return a.x0 + slack < b.x1 && b.x0 + slack < a.x1 && a.y0 + slack < b.y1 && b.y0 + slack < a.y1;
  };
  var inside = function (a, b, slack) {
    return a.x0 >= b.x0 - slack && a.x1 <= b.x1 + slack && a.y0 >= b.y0 - slack && a.y1 <= b.y1 + slack;
  };
  var labels = Array.from(document.querySelectorAll('text.label')).map(function (t) {
    return { words: t.textContent, size: parseFloat(getComputedStyle(t).fontSize), box: box(t), in: t.getAttribute('data-in') };
  });
  var marks = Array.from(document.querySelectorAll('.mark')).map(function (m) { return { id: m.id, box: box(m) }; });
  var all = { x0: 0, y0: 0, x1: width, y1: svg.height.baseVal.value };
  labels.forEach(function (l, i) {
    if (l.size < 11) { problems.push('"' + l.words + '" is ' + l.size + ' px'); }
    if (!inside(l.box, all, 0.5)) { problems.push('"' + l.words + '" leaves the chart'); }
    labels.slice(i + 1).forEach(function (o) {
      if (overlap(l.box, o.box, 0.5)) { problems.push('"' + l.words + '" overlaps "' + o.words + '"'); }
    });
    marks.forEach(function (m) {
      if (m.id === l.in) {
        if (!inside(l.box, m.box, 0.5)) { problems.push('"' + l.words + '" does not fit in its cell'); }
      } else if (overlap(l.box, m.box, 0.5)) {
        problems.push('"' + l.words + '" overlaps a mark');
      }
    });
  });
  return JSON.stringify({ labels: labels.length, problems: problems });
})()"#;

/// The explorer as drawn: the step shown, the op highlighted, and each
/// panel's stage and blocks (the region headers between them left out).
const EXPLORER_NOW: &str = r#"JSON.stringify({
  where: (document.querySelector('.explorer-where') || {}).textContent || '',
  current: Array.from(document.querySelectorAll('.explorer-ops li'))
    .findIndex(function (li) { return li.classList.contains('explorer-current'); }),
  panels: Array.from(document.querySelectorAll('.explorer-panel')).map(function (p) {
    return {
      stage: Number(p.dataset.stage),
      blocks: Array.from(p.querySelectorAll('g.explorer-block'))
        .filter(function (g) { return g.dataset.kind !== 'gap'; })
        .map(function (g) { return [g.dataset.kind, g.dataset.offset, Number(g.dataset.count), g.dataset.asked]; }),
      lists: Array.from(p.querySelectorAll('tr[data-list]'))
        .map(function (tr) { return [tr.dataset.list, Number(tr.lastChild.textContent)]; })
    };
  })
})"#;

/// Runs every check on the book built in `out`.
pub fn check(out: &Path) {
    let started = Instant::now();
    let chromium = find_chromium();
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
    ]
    .map(std::ffi::OsStr::new);
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.clone()))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile))
        .window_size(Some((1400, 1000)))
        .args(flags.to_vec())
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .expect("launch options");
    let browser = Browser::new(options).unwrap_or_else(|e| {
        panic!(
            "cannot start {} headless: {e:#}\n(the browser test needs Debian's chromium: {INSTALL})",
            chromium.display()
        )
    });
    let tab = browser.new_tab().expect("a tab");
    tab.set_default_timeout(Duration::from_secs(30));
    tab.call_method(Page::AddScriptToEvaluateOnNewDocument {
        source: WATCH.to_string(),
        world_name: None,
        include_command_line_api: None,
        run_immediately: None,
    })
    .expect("adding the error listener");

    let mut problems = Vec::new();
    every_page_loads(&tab, out, &mut problems);
    charts_are_readable(&tab, out, &mut problems);
    explorer_steps_through_split(&tab, out, &mut problems);
    assert!(
        problems.is_empty(),
        "the book in Chromium:\n{}",
        problems.join("\n")
    );
    println!(
        "browser test: {:.1} s with {}",
        started.elapsed().as_secs_f64(),
        chromium.display()
    );
}

/// Chromium: `$CHROMIUM`, or `chromium` (Debian) or `chromium-browser` or
/// `google-chrome` on the `PATH`. Panics with the command that installs it.
fn find_chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CHROMIUM is {}, which is not a file; install Chromium with {INSTALL}",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is not installed, and the book's browser test needs it: \
                 {INSTALL} (or set CHROMIUM to a Chromium or Chrome binary)"
            )
        })
}

/// `path` (inside the built book) as a `file://` URL.
fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Evaluates `expression` (which returns a JSON string, or a promise of
/// one) and reads it.
fn json(tab: &Tab, expression: &str) -> Value {
    let result = tab
        .evaluate(expression, true)
        .unwrap_or_else(|e| panic!("evaluating in the page: {e:#}"));
    let text = result
        .value
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the page returned no text: {result:?}"));
    serde_json::from_str(text).expect("the page's JSON")
}

/// The problems a [`LOADED`] answer lists.
fn listed(loaded: &Value) -> Vec<String> {
    loaded["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p.as_str().unwrap_or("?").to_string())
        .collect()
}

/// Opens `path` (with `#fragment`, if not empty), waits until it has
/// loaded, and returns what went wrong on it. Every call to the browser
/// costs `headless_chrome` up to 100 ms (it reads its socket with that
/// timeout), so this makes few; its own `wait_until_navigated` would wait
/// for half a second of network quiet on every page.
fn open(tab: &Tab, path: &Path, fragment: &str) -> Vec<String> {
    let target = format!("{}{fragment}", url(path));
    tab.navigate_to(&target)
        .unwrap_or_else(|e| panic!("opening {target}: {e:#}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Until the new page is there, this may still read the old one.
        let loaded = json(tab, LOADED);
        if loaded["at"] == url(path) {
            return listed(&loaded);
        }
        assert!(Instant::now() < deadline, "{target} never loaded");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every page of the book (not the print page, which repeats them and
/// opens the print dialog, nor the 404 page, made for a web server).
fn every_page_loads(tab: &Tab, out: &Path, problems: &mut Vec<String>) {
    let mut pages = Vec::new();
    collect_pages(out, &mut pages);
    pages.sort();
    pages.retain(|page| {
        !["print.html", "404.html", "toc.html"]
            .iter()
            .any(|skip| page.ends_with(skip))
    });
    assert!(
        pages.len() > 10,
        "only {} pages in {}",
        pages.len(),
        out.display()
    );
    for page in &pages {
        let name = page.strip_prefix(out).unwrap_or(page).display().to_string();
        let mut found = open(tab, page, "");
        // The explorer loads its data after the page: let it finish.
        if name == "explorer.html" {
            wait_for(
                tab,
                "document.querySelectorAll('.explorer-panel').length >= 1",
            );
            found = listed(&json(tab, LOADED));
        }
        problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
    }
}

fn collect_pages(dir: &Path, pages: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the built book") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect_pages(&path, pages);
        } else if path.extension().is_some_and(|e| e == "html") {
            pages.push(path);
        }
    }
}

/// The benchmark charts, each opened alone at its own size.
fn charts_are_readable(tab: &Tab, out: &Path, problems: &mut Vec<String>) {
    for chart in ["time.svg", "utilization.svg", "ladder.svg"] {
        let path = out.join("bench").join(chart);
        problems.extend(open(tab, &path, ""));
        let found = json(tab, CHART_PROBLEMS);
        let labels = found["labels"].as_u64().unwrap_or(0);
        if labels < 20 {
            problems.push(format!("bench/{chart}: only {labels} labels"));
        }
        for problem in found["problems"].as_array().into_iter().flatten() {
            problems.push(format!(
                "bench/{chart}: {}",
                problem.as_str().unwrap_or("?")
            ));
        }
    }
}

/// Waits until `condition` (a JavaScript expression) holds.
fn wait_for(tab: &Tab, condition: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let held = tab
            .evaluate(&format!("!!({condition})"), false)
            .ok()
            .and_then(|r| r.value)
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if held {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed `{condition}`"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A block as the page writes it on its SVG group: kind, offset (or
/// `mapped`), count, bytes asked (or empty).
fn drawn(block: &Block) -> Value {
    let Block(kind, offset, _, count, asked, _) = block;
    let offset = if *kind == "mapped" {
        "mapped".to_string()
    } else {
        offset.to_string()
    };
    let asked = asked.map_or(String::new(), |a| a.to_string());
    serde_json::json!([kind, offset, count, asked])
}

/// The split drill on stages 3 and 4, stepped through with the page's own
/// controls: after each op, each panel draws exactly the stage's blocks.
fn explorer_steps_through_split(tab: &Tab, out: &Path, problems: &mut Vec<String>) {
    let trace_path = "book/drills/split.rep";
    let text = std::fs::read_to_string(workbook_book::book_dir().join("drills/split.rep"))
        .expect("the split drill");
    let trace = malloc_trace::parse(&text).expect("a trace");
    let expected: Vec<explore::Exploration> = [3, 4]
        .iter()
        .map(|&stage| explore::explore(trace_path, &trace, stage).expect("exploring"))
        .collect();

    let page = out.join("explorer.html");
    problems.extend(open(tab, &page, "#trace=drills-split&a=3&b=4&step=0"));
    wait_for(
        tab,
        "document.querySelectorAll('.explorer-panel').length === 2",
    );
    // Where the "next" button is, to click it as a reader does.
    let next = json(
        tab,
        "JSON.stringify((function () { \
           var b = document.querySelector(\"button[aria-label^='next op']\"); \
           b.scrollIntoView({ block: 'center' }); \
           var r = b.getBoundingClientRect(); \
           return [r.x + r.width / 2, r.y + r.height / 2]; })())",
    );
    let next = Point {
        x: next[0].as_f64().expect("x"),
        y: next[1].as_f64().expect("y"),
    };
    let mut seen = Vec::new();
    for step in 0..=trace.ops.len() {
        if step > 0 {
            // The first ops by the button, the others by the right arrow
            // (the button keeps the focus, so the explorer gets the key,
            // not the book, which would turn the page).
            if step <= 2 {
                tab.click_point(next).expect("clicking next");
            } else {
                tab.press_key("ArrowRight")
                    .expect("pressing the right arrow");
            }
        }
        let now = loop {
            let now = json(tab, EXPLORER_NOW);
            let shown = now["where"].as_str().unwrap_or("");
            if step == 0 || shown.starts_with(&format!("op {step} of")) {
                break now;
            }
            assert!(
                !now["panels"].as_array().is_none_or(Vec::is_empty),
                "the explorer is gone after step {step}: did a key turn the page?"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        if now["current"] != step {
            problems.push(format!(
                "explorer: at step {step} the op list highlights {}",
                now["current"]
            ));
        }
        if step > 0 {
            let op = trace.ops[step - 1].to_string();
            if !now["where"].as_str().unwrap_or("").contains(&op) {
                problems.push(format!(
                    "explorer: step {step} does not name its op {op}: {}",
                    now["where"]
                ));
            }
        }
        let panels = now["panels"].as_array().cloned().unwrap_or_default();
        if panels.len() != 2 {
            problems.push(format!(
                "explorer: {} panels at step {step}, not 2",
                panels.len()
            ));
            return;
        }
        for (panel, exploration) in panels.iter().zip(&expected) {
            let want: Vec<Value> = exploration.blocks_at(step).iter().map(drawn).collect();
            let got = panel["blocks"].as_array().cloned().unwrap_or_default();
            if panel["stage"] != exploration.stage || got != want {
                problems.push(format!(
                    "explorer: stage {} after step {step} draws\n  {}\nbut the stage's map says\n  {}",
                    exploration.stage,
                    Value::Array(got),
                    Value::Array(want)
                ));
            }
        }
        seen.push(panels);
    }

    // What the trace says, in the blocks drawn: op 1 asks for 1000 bytes,
    // op 3 frees them, op 4 asks for 60, which stage 4 cuts from the freed
    // block (at its offset) and stage 3 takes from elsewhere.
    let blocks = |step: usize, panel: usize| -> Vec<(String, String, String)> {
        seen[step][panel]["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let word = |i: usize| b[i].as_str().unwrap_or("").to_string();
                (word(0), word(1), word(3))
            })
            .collect()
    };
    for panel in 0..2 {
        if !blocks(0, panel).is_empty() {
            problems.push(format!(
                "explorer: panel {panel} draws blocks before the first op"
            ));
        }
    }
    let big: Vec<String> = (0..2)
        .filter_map(|panel| {
            blocks(1, panel)
                .into_iter()
                .find(|(kind, _, asked)| kind == "live" && asked == "1000")
                .map(|(_, offset, _)| offset)
        })
        .collect();
    if big.len() != 2 {
        problems.push("explorer: op 1 (a 0 1000) draws no live 1000-byte block".into());
        return;
    }
    for panel in 0..2 {
        let at = &big[panel];
        let kind_at = |step: usize| {
            blocks(step, panel)
                .into_iter()
                .find(|(_, offset, _)| offset == at)
                .map(|(kind, _, asked)| (kind, asked))
        };
        if kind_at(3).map(|(kind, _)| kind) != Some("free".into()) {
            problems.push(format!(
                "explorer: op 3 (f 0) leaves panel {panel}'s block at {at} {:?}",
                kind_at(3)
            ));
        }
        let after = kind_at(4);
        let split = after == Some(("live".into(), "60".into()));
        let kept = after.as_ref().map(|(kind, _)| kind.as_str()) == Some("free");
        match (expected[panel].stage, split, kept) {
            (4, true, _) | (3, false, true) => {}
            (stage, ..) => problems.push(format!(
                "explorer: after op 4 (a 2 60) stage {stage} has {after:?} at {at}: stage 4 \
                 should cut the 60 bytes from the freed block, stage 3 should leave it free"
            )),
        }
    }
}
