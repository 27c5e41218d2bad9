// The heap explorer (explorer.md): steps through a trace on one or two
// stages and draws the heap after every op.
//
// It draws data and computes nothing about allocators. Every block, list
// length and byte count comes from the real stage: the book build runs the
// trace on the stage, reads the stage's own heap map after every op
// (tools/book/src/explore.rs, the same parser as the book's heap pictures)
// and writes the result beside this page, in explorer/data/. The same data
// is printed by `cargo workbook explore TRACE --stage N --json`.
//
// The data files are scripts that call explorerIndex(...) and
// explorerData(...), so that the page also works from file://, where
// fetch() may not read files.
(function () {
  'use strict';

  const root = document.getElementById('explorer');
  if (!root) {
    return;
  }
  const dataDir = new URL('data/', document.currentScript.src);

  // Colours as in the book's heap pictures (tools/book/src/picture.rs).
  const KINDS = {
    live: ['#8ae234', 'live: bytes asked for'],
    slack: ['#d4f5b3', 'live: rest of the block'],
    lost: ['#ef2929', 'freed, never reused'],
    free: ['#fce94f', 'free, on a list'],
    cached: ['#fcaf3e', 'free, in a thread cache'],
    header: ['#555753', 'header'],
    padding: ['#babdb6', 'padding'],
    bucket: ['#9fc5e8', 'bucket, not handed out yet'],
    top: ['#ffffff', 'top: from the OS, not used yet'],
    mapped: ['#c5a5cf', 'a mapping of its own'],
    gap: ['#888a85', 'region header'],
    none: ['#d3d7cf', 'not taken from the OS'],
  };
  const ROW = 22; // height of a row of the heap strip, in px
  const ROW_GAP = 4;
  const ZOOMS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
  const SPEEDS = [1, 4, 16, 64];
  const SVG = 'http://www.w3.org/2000/svg';

  // ---- loading ----------------------------------------------------------

  const waiting = new Map(); // "trace|stage" -> {resolve, reject}
  const loaded = new Map(); // "trace|stage" -> Promise of prepared data
  let indexDone;
  const indexLoaded = new Promise(function (resolve, reject) {
    indexDone = { resolve: resolve, reject: reject };
  });
  window.explorerIndex = function (index) {
    indexDone.resolve(index);
  };
  window.explorerData = function (data) {
    const key = data.trace + '|' + data.stage;
    const wait = waiting.get(key);
    if (wait) {
      waiting.delete(key);
      wait.resolve(data);
    }
  };

  function script(name, onError) {
    const tag = document.createElement('script');
    tag.src = new URL(name, dataDir).href;
    tag.onerror = onError;
    document.head.appendChild(tag);
  }

  function load(trace, stage) {
    const key = trace.path + '|' + stage;
    if (!loaded.has(key)) {
      const promise = new Promise(function (resolve, reject) {
        waiting.set(key, { resolve: resolve, reject: reject });
        script(trace.data + '-stage' + stage + '.js', function () {
          reject(new Error('cannot load the data of ' + trace.path + ' on stage ' + stage));
        });
      }).then(prepare);
      loaded.set(key, promise);
    }
    return loaded.get(key);
  }

  // Applies each step's changes to the step before: frames[n] is the heap
  // after op n, in address order, mappings last.
  function prepare(data) {
    const blocks = new Map();
    const lists = new Map();
    data.frames = [];
    data.lists = [];
    data.changed = [];
    const key = function (b) {
      return b[0] === 'mapped' ? 'mapped' : b[1];
    };
    for (const step of data.steps) {
      for (const offset of step.gone || []) {
        blocks.delete(offset);
      }
      const changed = new Set();
      for (const b of step.changed || []) {
        blocks.set(key(b), b);
        changed.add(key(b));
      }
      for (const entry of step.lists || []) {
        lists.set(entry[0], entry[1]);
      }
      const frame = Array.from(blocks.values());
      frame.sort(function (a, b) {
        const ma = a[0] === 'mapped';
        const mb = b[0] === 'mapped';
        return ma === mb ? a[1] - b[1] : ma ? 1 : -1;
      });
      data.frames.push(frame);
      data.lists.push(sortedLists(lists));
      data.changed.push(changed);
    }
    data.heapEnd = 0;
    data.mappedMax = 0;
    for (const frame of data.frames) {
      for (const b of frame) {
        if (b[0] === 'mapped') {
          data.mappedMax = Math.max(data.mappedMax, b[2]);
        } else {
          data.heapEnd = Math.max(data.heapEnd, b[1] + b[2]);
        }
      }
    }
    return data;
  }

  // Lists by size: "16", "64", ... "large"; bins "16+", "32+", ...
  function sortedLists(lists) {
    const entries = Array.from(lists.entries());
    const rank = function (name) {
      const n = parseInt(name, 10);
      return isNaN(n) ? Infinity : n;
    };
    entries.sort(function (a, b) {
      return rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1);
    });
    return entries;
  }

  // ---- words --------------------------------------------------------------

  function bytes(n) {
    if (n >= 1 << 20) {
      return (n / (1 << 20)).toFixed(1) + ' MiB';
    }
    if (n >= 10 * 1024) {
      return (n / 1024).toFixed(1) + ' KiB';
    }
    return n + ' B';
  }

  function hex(n) {
    return '+0x' + n.toString(16);
  }

  // An op of the trace in words ("a 0 1000" is "malloc(1000) → block 0").
  function opWords(line) {
    const w = line.split(/\s+/);
    const id = w[1] === '-1' ? 'NULL' : 'block ' + w[1];
    switch (w[0]) {
      case 'a':
        return 'malloc(' + w[2] + ') → ' + id;
      case 'f':
        return 'free(' + id + ')';
      case 'r':
        return id + ' = realloc(' + id + ', ' + w[2] + ')';
      case 'c':
        return 'calloc(' + w[2] + ', ' + w[3] + ') → ' + id;
      case 'm':
        return 'memalign(' + w[2] + ', ' + w[3] + ') → ' + id;
      default:
        return line;
    }
  }

  function describe(b, header) {
    const kind = b[0];
    const count = b[3];
    const each = count > 1 ? ' each' : '';
    let text;
    switch (kind) {
      case 'live':
        text = 'live: ' + b[4] + ' B asked' + (b[5] != null ? ', ' + b[5] + ' B usable' : '') + each;
        break;
      case 'lost':
        text = 'freed, never reused' + (b[4] != null ? ': was ' + b[4] + ' B' : '');
        break;
      case 'free':
        text = 'free, on a list' + (b[5] != null ? ': ' + b[5] + ' B usable' + each : '');
        break;
      case 'cached':
        text = 'free, in a thread cache: ' + b[5] + ' B usable' + each;
        break;
      case 'bucket':
        text = 'bucket of ' + b[5] + ': ' + count + ' blocks not handed out yet';
        break;
      case 'top':
        text = 'top: ' + b[2] + ' B from the OS, not used yet';
        break;
      case 'mapped':
        text = count + ' block(s) in mappings of their own: ' + b[2] + ' B';
        break;
      default:
        text = kind + ' ' + b[2] + ' B';
    }
    if (count > 1 && kind !== 'bucket' && kind !== 'mapped') {
      text = count + ' × ' + text;
    }
    const where = kind === 'mapped' ? 'outside the heap' : 'at ' + hex(b[1]);
    const header_ = ['live', 'lost', 'free', 'cached'].indexOf(kind) >= 0
      ? ' (' + header + ' B header before each)'
      : '';
    return text + '\n' + where + ', ' + b[2] + ' B in all' + header_;
  }

  // ---- elements -----------------------------------------------------------

  function el(name, attributes, parent) {
    const node = document.createElement(name);
    for (const key in attributes || {}) {
      if (key === 'text') {
        node.textContent = attributes[key];
      } else {
        node.setAttribute(key, attributes[key]);
      }
    }
    if (parent) {
      parent.appendChild(node);
    }
    return node;
  }

  function svgEl(name, attributes, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attributes || {}) {
      if (key === 'text') {
        node.textContent = attributes[key];
      } else {
        node.setAttribute(key, attributes[key]);
      }
    }
    if (parent) {
      parent.appendChild(node);
    }
    return node;
  }

  // ---- the page -----------------------------------------------------------

  const state = {
    index: null,
    trace: null,
    stages: [3, 4],
    step: 0,
    zoom: 8,
    speed: 4,
    timer: null,
    data: [null, null],
  };
  const ui = {};

  function build(index) {
    state.index = index;
    root.textContent = '';
    const controls = el('div', { class: 'explorer-controls' }, root);

    const pick = el('div', { class: 'explorer-row' }, controls);
    el('label', { for: 'explorer-trace', text: 'Trace ' }, pick);
    ui.trace = el('select', { id: 'explorer-trace' }, pick);
    for (const t of index.traces) {
      const cut = t.trace_ops > t.ops ? ' (first ' + t.ops + ' of ' + t.trace_ops + ' ops)' : ' (' + t.ops + ' ops)';
      el('option', { value: t.data, text: t.path + cut }, ui.trace);
    }
    ui.stageSelects = [];
    ['Stage ', 'beside stage '].forEach(function (words, i) {
      el('label', { for: 'explorer-stage-' + i, text: ' ' + words }, pick);
      const select = el('select', { id: 'explorer-stage-' + i }, pick);
      if (i === 1) {
        el('option', { value: '0', text: 'none' }, select);
      }
      for (const s of index.stages) {
        el('option', { value: String(s.number), text: s.number + ' ' + s.name }, select);
      }
      ui.stageSelects.push(select);
    });

    const steps = el('div', { class: 'explorer-row' }, controls);
    const button = function (text, label, action) {
      const b = el('button', { type: 'button', 'aria-label': label, title: label, text: text }, steps);
      b.addEventListener('click', action);
      return b;
    };
    ui.first = button('|◀ first', 'first step: the empty heap', function () { go(0); });
    ui.prev = button('◀ back', 'previous op (left arrow)', function () { go(state.step - 1); });
    ui.play = button('play', 'play the ops one after the other', togglePlay);
    ui.next = button('next ▶', 'next op (right arrow)', function () { go(state.step + 1); });
    ui.last = button('last ▶|', 'last step', function () { go(Infinity); });
    ui.slider = el('input', { type: 'range', min: '0', max: '0', value: '0', class: 'explorer-slider', 'aria-label': 'step' }, steps);
    ui.slider.addEventListener('input', function () { go(Number(ui.slider.value)); });
    ui.speed = el('select', { 'aria-label': 'speed', title: 'ops per second when playing' }, steps);
    for (const s of SPEEDS) {
      el('option', { value: String(s), text: s + ' op/s' }, ui.speed);
    }
    ui.speed.value = String(state.speed);
    ui.speed.addEventListener('change', function () {
      state.speed = Number(ui.speed.value);
      if (state.timer) {
        togglePlay();
        togglePlay();
      }
    });

    const now = el('div', { class: 'explorer-row explorer-now' }, controls);
    ui.where = el('span', { class: 'explorer-where' }, now);

    const zoom = el('div', { class: 'explorer-row' }, controls);
    el('span', { text: 'Zoom ' }, zoom);
    const zoomButton = function (text, label, change) {
      const b = el('button', { type: 'button', 'aria-label': label, title: label, text: text }, zoom);
      b.addEventListener('click', function () {
        const i = ZOOMS.indexOf(state.zoom) + change;
        state.zoom = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, i))];
        draw();
      });
    };
    zoomButton('−', 'zoom out: fewer rows', -1);
    zoomButton('+', 'zoom in: more rows', 1);
    ui.scale = el('span', { class: 'explorer-scale' }, zoom);

    legend(el('div', { class: 'explorer-legend' }, root));

    const body = el('div', { class: 'explorer-body' }, root);
    const opsBox = el('div', { class: 'explorer-ops-box' }, body);
    el('div', { class: 'explorer-heading', text: 'Ops' }, opsBox);
    ui.ops = el('ol', { class: 'explorer-ops', start: '0' }, opsBox);
    ui.panels = el('div', { class: 'explorer-panels' }, body);

    ui.trace.addEventListener('change', function () {
      state.zoom = null;
      choose(ui.trace.value, state.stages, 0);
    });
    ui.stageSelects.forEach(function (select, i) {
      select.addEventListener('change', function () {
        const stages = state.stages.slice();
        stages[i] = Number(select.value);
        choose(state.trace.data, stages, state.step);
      });
    });
    root.addEventListener('keydown', function (e) {
      if (e.target.nodeName === 'SELECT' || e.target.nodeName === 'INPUT') {
        e.stopPropagation(); // the page's own arrow keys turn pages
        return;
      }
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        e.stopPropagation();
        e.preventDefault();
        go(state.step + (e.key === 'ArrowLeft' ? -1 : 1));
      }
    });
    window.addEventListener('hashchange', fromHash);
    fromHash();
  }

  function legend(box) {
    for (const kind of ['live', 'slack', 'header', 'free', 'lost', 'cached', 'bucket', 'padding', 'top', 'mapped', 'gap', 'none']) {
      const item = el('span', { class: 'explorer-key' }, box);
      el('span', { class: 'explorer-swatch', style: 'background:' + KINDS[kind][0] }, item);
      item.appendChild(document.createTextNode(KINDS[kind][1]));
    }
    const item = el('span', { class: 'explorer-key' }, box);
    el('span', { class: 'explorer-swatch explorer-swatch-changed' }, item);
    item.appendChild(document.createTextNode('changed by this op'));
  }

  // The hash keeps the view: #trace=drills-split&a=3&b=4&step=2&zoom=8.
  function fromHash() {
    const hash = new URLSearchParams(location.hash.slice(1));
    const trace = hash.get('trace') || 'drills-split';
    const a = Number(hash.get('a') || 3);
    const b = hash.has('b') ? Number(hash.get('b')) : a === 3 ? 4 : 0;
    const zoom = Number(hash.get('zoom'));
    state.zoom = ZOOMS.indexOf(zoom) >= 0 ? zoom : null;
    choose(trace, [a, b], Number(hash.get('step') || 0));
  }

  function toHash() {
    const hash = 'trace=' + state.trace.data + '&a=' + state.stages[0] + '&b=' + state.stages[1] +
      '&step=' + state.step + '&zoom=' + state.zoom;
    history.replaceState(null, '', '#' + hash);
  }

  function choose(traceName, stages, step) {
    const index = state.index;
    const trace = index.traces.find(function (t) { return t.data === traceName; }) || index.traces[0];
    const known = function (n) {
      return index.stages.some(function (s) { return s.number === n; });
    };
    stages = [known(stages[0]) ? stages[0] : index.stages[0].number, known(stages[1]) ? stages[1] : 0];
    state.trace = trace;
    state.stages = stages;
    ui.trace.value = trace.data;
    ui.stageSelects[0].value = String(stages[0]);
    ui.stageSelects[1].value = String(stages[1]);
    const wanted = stages.map(function (n) { return n ? load(trace, n) : Promise.resolve(null); });
    root.classList.add('explorer-loading');
    Promise.all(wanted).then(function (data) {
      if (state.trace !== trace || state.stages !== stages) {
        return; // another choice came after this one
      }
      root.classList.remove('explorer-loading');
      state.data = data;
      if (!state.zoom) {
        state.zoom = fitZoom(data);
      }
      listOps(data[0]);
      ui.slider.max = String(data[0].ops.length);
      state.step = -1;
      go(step);
    }, failed);
  }

  // The zoom a trace opens with: a 64-byte block at least 4 px wide, on at
  // most 16 rows.
  function fitZoom(data) {
    const width = Math.max(280, (ui.panels.clientWidth || 600) / (data[1] ? 2 : 1) - 20);
    const heapEnd = Math.max.apply(null, data.filter(Boolean).map(function (d) { return d.heapEnd; }));
    const rows = heapEnd * 4 / 64 / width;
    return ZOOMS.find(function (z) { return z >= rows || z === 16; });
  }

  function failed(error) {
    root.classList.remove('explorer-loading');
    el('p', { class: 'explorer-error', text: String(error.message || error) }, root);
  }

  function listOps(data) {
    ui.ops.textContent = '';
    const start = el('li', { text: '(start)', title: 'before the first op' }, ui.ops);
    start.addEventListener('click', function () { go(0); });
    data.ops.forEach(function (op, i) {
      const li = el('li', { title: opWords(op) }, ui.ops);
      el('code', { text: op }, li);
      li.addEventListener('click', function () { go(i + 1); });
    });
  }

  function go(step) {
    const last = state.data[0] ? state.data[0].ops.length : 0;
    step = Math.max(0, Math.min(last, step));
    if (step === state.step) {
      return;
    }
    const before = ui.ops.children[state.step];
    if (before) {
      before.classList.remove('explorer-current');
    }
    state.step = step;
    const current = ui.ops.children[step];
    if (current) {
      current.classList.add('explorer-current');
      const box = ui.ops;
      if (current.offsetTop < box.scrollTop || current.offsetTop + current.offsetHeight > box.scrollTop + box.clientHeight) {
        box.scrollTop = current.offsetTop - box.clientHeight / 2;
      }
    }
    ui.slider.value = String(step);
    if (step >= last && state.timer) {
      togglePlay();
    }
    draw();
    toHash();
  }

  function togglePlay() {
    if (state.timer) {
      clearInterval(state.timer);
      state.timer = null;
      ui.play.textContent = 'play';
      return;
    }
    if (state.step >= state.data[0].ops.length) {
      go(0);
    }
    ui.play.textContent = 'pause';
    state.timer = setInterval(function () { go(state.step + 1); }, 1000 / state.speed);
  }

  // ---- drawing ------------------------------------------------------------

  function draw() {
    const data = state.data.filter(Boolean);
    if (!data.length) {
      return;
    }
    const step = state.step;
    const op = step === 0 ? 'before the first op' : 'op ' + step + ' of ' + data[0].ops.length + ': ' + data[0].ops[step - 1] + ' = ' + opWords(data[0].ops[step - 1]);
    ui.where.textContent = op;

    // One scale for both stages: the bytes a row holds.
    const heapEnd = Math.max.apply(null, data.map(function (d) { return d.heapEnd; }).concat([16]));
    const perRow = Math.ceil(heapEnd / state.zoom / 16) * 16;
    ui.scale.textContent = state.zoom + (state.zoom === 1 ? ' row' : ' rows') + ' of ' + bytes(perRow) + ' each';
    ui.panels.textContent = '';
    ui.panels.classList.toggle('explorer-two', data.length > 1);
    for (const d of data) {
      panel(d, step, perRow);
    }
  }

  function panel(data, step, perRow) {
    const box = el('section', { class: 'explorer-panel', 'data-stage': String(data.stage) }, ui.panels);
    el('div', { class: 'explorer-heading', text: 'Stage ' + data.stage + ': ' + data.stage_name + ' (' + data.allocator + ')' }, box);
    const footprint = data.footprint[step];
    const live = data.live[step];
    const use = footprint ? (100 * live / footprint).toFixed(1) + '%' : '–';
    el('div', { class: 'explorer-numbers', text: 'footprint ' + bytes(footprint) + ' · live ' + bytes(live) + ' · live / footprint ' + use }, box);
    const strip = el('div', { class: 'explorer-strip' }, box);
    heap(strip, data, step, perRow);
    const below = el('div', { class: 'explorer-below' }, box);
    lists(el('div', { class: 'explorer-lists' }, below), data, step);
    chart(el('div', { class: 'explorer-chart' }, below), data, step);
  }

  // The heap as rows of blocks, drawn to scale: a row holds `perRow` bytes.
  function heap(box, data, step, perRow) {
    // Room for the scroll bar that many rows bring; the picture scales
    // to the box's width anyway.
    const width = Math.max(280, (box.clientWidth || 600) - 16);
    const scale = (width - 2) / perRow;
    const rows = Math.max(1, Math.ceil(data.heapEnd / perRow));
    const mappedRows = data.mappedMax ? Math.min(4, Math.ceil(data.mappedMax / perRow)) : 0;
    const height = (rows + (mappedRows ? mappedRows + 1 : 0)) * (ROW + ROW_GAP);
    const svg = svgEl('svg', { width: '100%', viewBox: '0 0 ' + width + ' ' + height, class: 'explorer-heap' }, box);
    const frame = data.frames[step];
    const changed = data.changed[step];
    const end = frame.reduce(function (e, b) { return b[0] === 'mapped' ? e : Math.max(e, b[1] + b[2]); }, 0);

    // Rows: address space not taken from the OS yet is left pale.
    for (let r = 0; r < rows; r++) {
      svgEl('rect', { x: 1, y: r * (ROW + ROW_GAP), width: width - 2, height: ROW, class: 'explorer-row-bg' }, svg);
    }

    // The pieces of [start, start + len) on the rows, cut at row ends.
    const place = function (start, len, perRowHere, top) {
      const out = [];
      let s = start;
      const stop = start + len;
      while (s < stop) {
        const row = Math.floor(s / perRowHere);
        const e = Math.min(stop, (row + 1) * perRowHere);
        out.push({ x: 1 + (s - row * perRowHere) * scale * (perRow / perRowHere), y: top + row * (ROW + ROW_GAP), w: (e - s) * scale * (perRow / perRowHere) });
        s = e;
      }
      return out;
    };
    const rect = function (group, start, len, fill, perRowHere, top, cls) {
      for (const p of place(start, len, perRowHere || perRow, top || 0)) {
        svgEl('rect', { x: p.x, y: p.y, width: Math.max(p.w, 0.5), height: ROW, fill: fill, class: cls || '' }, group);
      }
    };

    // What lies between blocks: the header of a region.
    let at = 0;
    const header = data.header;
    let drawn = 0; // rectangles, to keep the picture light
    for (const b of frame) {
      if (b[0] === 'mapped') {
        continue;
      }
      if (b[1] > at) {
        const g = svgEl('g', { class: 'explorer-block', 'data-kind': 'gap', 'data-offset': at }, svg);
        svgEl('title', { text: 'region header\nat ' + hex(at) + ', ' + (b[1] - at) + ' B' }, g);
        rect(g, at, b[1] - at, KINDS.gap[0]);
      }
      at = b[1] + b[2];
      const g = svgEl('g', { class: 'explorer-block', 'data-kind': b[0], 'data-offset': b[1], 'data-count': b[3], 'data-asked': b[4] == null ? '' : b[4] }, svg);
      svgEl('title', { text: describe(b, header) }, g);
      const span = b[2] / b[3];
      const fine = span * scale >= 4 && drawn + b[3] < 4000;
      const blocks = fine ? b[3] : 1;
      const each = fine ? span : b[2];
      for (let i = 0; i < blocks; i++) {
        const start = b[1] + i * each;
        drawn++;
        switch (b[0]) {
          case 'live':
          case 'lost':
          case 'free':
          case 'cached': {
            const hasHeader = fine && header * scale >= 1;
            const body = hasHeader ? header : 0;
            if (hasHeader) {
              rect(g, start, header, KINDS.header[0]);
            }
            if (b[0] === 'live' && fine && b[4] != null && b[4] < each - body) {
              rect(g, start + body, b[4], KINDS.live[0]);
              rect(g, start + body + b[4], each - body - b[4], KINDS.slack[0]);
            } else {
              rect(g, start + body, each - body, KINDS[b[0]][0]);
            }
            break;
          }
          case 'top':
            rect(g, start, each, KINDS.top[0], 0, 0, 'explorer-top');
            break;
          default:
            rect(g, start, each, (KINDS[b[0]] || KINDS.padding)[0], 0, 0, fine && b[3] > 1 ? 'explorer-cell' : '');
        }
      }
      // A word in the block when it has room.
      const first = place(b[1], b[2], perRow, 0)[0];
      const word = b[0] === 'live' ? String(b[4]) : b[0] === 'bucket' ? 'bucket ' + b[5] : b[0] === 'free' ? 'free' + (b[3] > 1 ? ' ×' + b[3] : '') : b[0];
      if (first && first.w > word.length * 7 + 8 && b[0] !== 'top') {
        svgEl('text', { x: first.x + (header * scale >= 1 && b[0] !== 'bucket' ? header * scale : 0) + 3, y: first.y + 15, class: 'explorer-word', text: word }, g);
      }
      // The top and a bucket's tail move with almost every op: only the
      // blocks themselves are outlined.
      if (changed.has(b[1]) && b[0] !== 'top' && b[0] !== 'bucket') {
        for (const p of place(b[1], b[2], perRow, 0)) {
          svgEl('rect', { x: p.x, y: p.y, width: Math.max(p.w, 2), height: ROW, class: 'explorer-changed' }, g);
        }
      }
    }
    if (end === 0) {
      svgEl('text', { x: 8, y: 15, class: 'explorer-word', text: 'nothing taken from the OS yet' }, svg);
    }

    // Mappings lie elsewhere in the address space: a band of their own.
    if (mappedRows) {
      const top = (rows + 1) * (ROW + ROW_GAP);
      svgEl('text', { x: 1, y: top - 7, class: 'explorer-word', text: 'mappings of their own (outside the heap)' }, svg);
      const m = frame.find(function (b) { return b[0] === 'mapped'; });
      if (m) {
        const g = svgEl('g', { class: 'explorer-block', 'data-kind': 'mapped', 'data-offset': 'mapped', 'data-count': m[3] }, svg);
        svgEl('title', { text: describe(m, header) }, g);
        // At most four rows; past that, the band is shrunk to fit.
        const perRowHere = Math.max(perRow, Math.ceil(data.mappedMax / 4 / 16) * 16);
        rect(g, 0, m[2], KINDS.mapped[0], perRowHere, top);
        if (changed.has('mapped')) {
          for (const p of place(0, m[2], perRowHere, top)) {
            svgEl('rect', { x: p.x, y: p.y, width: Math.max(p.w, 2), height: ROW, class: 'explorer-changed' }, g);
          }
        }
      }
    }
  }

  function lists(box, data, step) {
    const entries = data.lists[step];
    const bins = data.stage >= 7;
    el('div', { class: 'explorer-heading', text: bins ? 'Free blocks by bin' : 'Free lists' }, box);
    if (!entries.length) {
      el('div', { class: 'explorer-note', text: bins ? 'every bin is empty' : 'this stage keeps no free lists' }, box);
      return;
    }
    const most = Math.max(1, Math.max.apply(null, entries.map(function (e) { return e[1]; })));
    const table = el('table', { class: 'explorer-list-table' }, box);
    for (const entry of entries) {
      if (bins && entry[1] === 0 && entry[0] !== '…') {
        continue; // the map names only the bins in use
      }
      const tr = el('tr', { 'data-list': entry[0] }, table);
      el('td', { text: entry[0] === '…' ? '… (the map cuts the line here)' : entry[0] }, tr);
      const bar = el('td', { class: 'explorer-bar-cell' }, tr);
      el('span', { class: 'explorer-bar', style: 'width:' + (100 * entry[1] / most).toFixed(1) + '%' }, bar);
      el('td', { class: 'explorer-count', text: entry[0] === '…' ? '' : String(entry[1]) }, tr);
    }
  }

  // Footprint and live bytes over the trace, and live / footprint below.
  function chart(box, data, step) {
    el('div', { class: 'explorer-heading', text: 'Over the trace' }, box);
    // Drawn at the box's width, so that its words stay 11 px.
    const width = Math.max(220, Math.min(520, box.clientWidth || 300));
    const height = 150;
    const left = 58;
    const right = 8;
    const n = data.footprint.length;
    const most = Math.max(1, Math.max.apply(null, data.footprint));
    const x = function (i) { return left + (width - left - right) * (n > 1 ? i / (n - 1) : 0); };
    const bytesTop = 14;
    const bytesBottom = 82;
    const useTop = 104;
    const useBottom = 136;
    const y = function (v) { return bytesBottom - (bytesBottom - bytesTop) * v / most; };
    const yUse = function (u) { return useBottom - (useBottom - useTop) * u; };
    const svg = svgEl('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, class: 'explorer-chart-svg' }, box);
    const line = function (values, f, cls) {
      let d = '';
      values.forEach(function (v, i) { d += (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + f(v).toFixed(1); });
      svgEl('path', { d: d, class: cls }, svg);
    };
    svgEl('line', { x1: left, x2: width - right, y1: bytesBottom, y2: bytesBottom, class: 'explorer-axis' }, svg);
    svgEl('line', { x1: left, x2: width - right, y1: useBottom, y2: useBottom, class: 'explorer-axis' }, svg);
    svgEl('text', { x: left - 4, y: bytesTop + 4, class: 'explorer-tick', 'text-anchor': 'end', text: bytes(most) }, svg);
    svgEl('text', { x: left - 4, y: bytesBottom, class: 'explorer-tick', 'text-anchor': 'end', text: '0' }, svg);
    svgEl('text', { x: left - 4, y: useTop + 4, class: 'explorer-tick', 'text-anchor': 'end', text: '100%' }, svg);
    svgEl('text', { x: left - 4, y: useBottom, class: 'explorer-tick', 'text-anchor': 'end', text: '0%' }, svg);
    line(data.footprint, y, 'explorer-line-footprint');
    line(data.live, y, 'explorer-line-live');
    line(data.footprint.map(function (f, i) { return f ? data.live[i] / f : 0; }), yUse, 'explorer-line-use');
    svgEl('text', { x: left + 4, y: bytesTop - 3, class: 'explorer-tick explorer-tick-footprint', text: 'footprint' }, svg);
    svgEl('text', { x: left + 70, y: bytesTop - 3, class: 'explorer-tick explorer-tick-live', text: 'live bytes' }, svg);
    svgEl('text', { x: left + 4, y: useTop - 5, class: 'explorer-tick explorer-tick-use', text: 'live / footprint' }, svg);
    svgEl('text', { x: width - right, y: height - 2, class: 'explorer-tick', 'text-anchor': 'end', text: 'op ' + (n - 1) }, svg);
    svgEl('text', { x: left, y: height - 2, class: 'explorer-tick', text: 'start' }, svg);
    svgEl('line', { x1: x(step), x2: x(step), y1: bytesTop - 2, y2: useBottom, class: 'explorer-cursor' }, svg);
    svg.addEventListener('click', function (e) {
      const r = svg.getBoundingClientRect();
      const px = (e.clientX - r.left) * width / r.width;
      go(Math.round((px - left) / (width - left - right) * (n - 1)));
    });
  }

  el('p', { class: 'explorer-note', text: 'Loading the explorer’s data…' }, root);
  script('index.js', function () {
    indexDone.reject(new Error(
      'The explorer’s data is missing (explorer/data/index.js). It is written when the book ' +
      'is built with `cargo workbook book`.'));
  });
  indexLoaded.then(build, function (error) {
    root.textContent = '';
    failed(error);
  });
})();
