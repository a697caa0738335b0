/* The output viewer (section #compare). Its data comes from reports/viewer.py in a
   non-executed application/json script. Model output is untrusted: every element is built with
   createElement and text inserted with textContent / text nodes only (never innerHTML, no inline
   handlers); bidirectional control characters (U+202E etc.) are shown as visible [U+202E] marks
   instead of letting them reorder the page.

   State lives in the URL fragment: #compare/prompt=P&cell=CELL_ID&base=CELL_ID&loop=1&fail=1
   &differ=1&metric=M&op=ge|le&thr=X&q=TEXT&diff=0 (absent keys take their defaults; a link
   without prompt keeps the current prompt). */
(function () {
  "use strict";
  var holder = document.getElementById("compare-data");
  if (!holder) { return; }
  var D = JSON.parse(holder.textContent);
  var section = document.getElementById("compare");
  function $(id) { return document.getElementById(id); }
  var CTL = /([\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069])/;
  var CTL_ALL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
  function mark(ch) { return "[U+" + ("000" + ch.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + "]"; }
  function plain(s) { return String(s).replace(CTL_ALL, mark); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = plain(text); }
    return e;
  }
  function addText(parent, s) {  // text nodes only; control characters as visible marks
    String(s).split(CTL).forEach(function (part, i) {
      if (!part) { return; }
      parent.appendChild(i % 2 ? el("span", "ctl", mark(part)) : document.createTextNode(part));
    });
  }
  function fmt(v) { return Math.abs(v) >= 100 || v === Math.round(v) ? String(Math.round(v * 10) / 10) : v.toPrecision(3); }

  // word diff (a word keeps its trailing spaces): common prefix and suffix trimmed, then an
  // LCS table bounded to MAX_CELLS entries; in each changed run deletions come before insertions
  var MAX_CELLS = 400000;
  function wordDiff(a, b) {
    var x = a.match(/\S+\s*|\s+/g) || [], y = b.match(/\S+\s*|\s+/g) || [], ops = [], bounded = false, dels = [], inss = [];
    function add(op, text) { var last = ops[ops.length - 1];
      if (!text) { return; } if (last && last[0] === op) { last[1] += text; } else { ops.push([op, text]); } }
    function push(op, toks) {
      if (op < 0) { dels.push(toks.join("")); return; }
      if (op > 0) { inss.push(toks.join("")); return; }
      add(-1, dels.join("")); add(1, inss.join("")); dels = []; inss = []; add(0, toks.join(""));
    }
    var pre = 0, suf = 0;
    while (pre < x.length && pre < y.length && x[pre] === y[pre]) { pre++; }
    while (suf < x.length - pre && suf < y.length - pre && x[x.length - 1 - suf] === y[y.length - 1 - suf]) { suf++; }
    var A = x.slice(pre, x.length - suf), B = y.slice(pre, y.length - suf), n = A.length, m = B.length;
    push(0, x.slice(0, pre));
    if (n * m > MAX_CELLS) {
      bounded = true; push(-1, A); push(1, B);
    } else {
      var w = m + 1, L = new Uint16Array((n + 1) * w), i, j;
      for (i = n - 1; i >= 0; i--) {
        for (j = m - 1; j >= 0; j--) {
          L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      i = 0; j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && A[i] === B[j]) { push(0, [A[i]]); i++; j++; }
        else if (j >= m || (i < n && L[(i + 1) * w + j] >= L[i * w + j + 1])) { push(-1, [A[i]]); i++; }
        else { push(1, [B[j]]); j++; }
      }
    }
    push(0, x.slice(x.length - suf));
    return { ops: ops, bounded: bounded };  // ops: [0 same | -1 baseline only | 1 this output only, text]
  }

  var S = { prompt: null, cell: null, base: D.baseline, q: "", loop: false, fail: false, differ: false,
            metric: "", op: "ge", thr: "", diff: true };
  var cellIndex = {}, promptText = {}, promptIds = [], metricAt = {};
  D.cells.forEach(function (c, i) { cellIndex[c[0]] = i; });
  D.prompts.forEach(function (p) { promptIds.push(p[0]); promptText[p[0]] = p[1]; });
  D.metrics.forEach(function (m, i) { metricAt[m] = i; });
  function label(ci) { return D.cells[ci][1] + " | " + D.cells[ci][2]; }
  function rows(ci, pid) { return (D.outputs[ci] || {})[pid] || []; }
  function groups(ci, pid) {  // identical samples of a cell shown once, with their sample indices
    var out = [], byKey = {};
    rows(ci, pid).forEach(function (r) {
      var k = r[1] + "|" + (r[2] || ""), g = byKey[k];
      if (!g) { g = byKey[k] = { ti: r[1], fin: r[2], err: r[3], m: r[4], samples: [] }; out.push(g); }
      g.samples.push(r[0]);
    });
    return out;
  }
  function signature(ci, pid) { return rows(ci, pid).map(function (r) { return r[0] + ":" + r[1]; }).join(","); }
  function val(g, m) { var v = g.m[metricAt[m]]; return v === undefined ? null : v; }
  function thresholdOn() { return S.metric !== "" && S.thr !== "" && isFinite(parseFloat(S.thr)); }
  function filtering() { return S.loop || S.fail || thresholdOn(); }
  function keep(g) {
    var v;
    if (S.loop && !((v = val(g, "loop")) !== null && v > 0)) { return false; }
    if (S.fail && !((v = val(g, "check_pass")) !== null && v < 1)) { return false; }
    if (thresholdOn()) {
      v = val(g, S.metric);
      var t = parseFloat(S.thr);
      if (v === null || (S.op === "ge" ? v < t : v > t)) { return false; }
    }
    return true;
  }
  function columns(pid) {  // the baseline first (always, in full), then every other cell that passes
    var baseSig = signature(S.base, pid), cols = [];
    [S.base].concat(D.cells.map(function (c, i) { return i; }).filter(function (i) { return i !== S.base; }))
      .forEach(function (ci) {
        var gs = groups(ci, pid), sig = signature(ci, pid), isBase = ci === S.base;
        if (!isBase && S.differ && sig === baseSig) { return; }
        var shown = isBase ? gs : gs.filter(keep);
        if (!isBase && filtering() && !shown.length) { return; }
        cols.push({ ci: ci, gs: gs, shown: shown, sig: sig });
      });
    return cols;
  }
  function visiblePrompts() {
    var q = S.q.toLowerCase();
    return promptIds.filter(function (p) {
      if (q && p.toLowerCase().indexOf(q) < 0 && promptText[p].toLowerCase().indexOf(q) < 0) { return false; }
      return !(filtering() || S.differ) || columns(p).length > 1;
    });
  }

  function badges(meta, g) {
    D.metrics.forEach(function (m) {
      var v = val(g, m), b = null;
      if (v === null) { return; }
      if (m === "loop") { if (v > 0) { b = el("span", "badge bad", "loop"); } }
      else if (m === "truncated") { if (v > 0) { b = el("span", "badge warn", "truncated"); } }
      else if (m === "check_pass") { b = el("span", v >= 1 ? "badge ok" : "badge bad", v >= 1 ? "checks pass" : "checks fail"); }
      else { b = el("span", "badge", m + " " + fmt(v)); }
      if (b) { b.title = m + " = " + v; meta.appendChild(b); }
    });
  }
  function output(g, ci, pid, baseText, shared) {
    var box = el("div", "cmp-out" + (g.err ? " err" : "")), meta = el("div", "meta"), pre = el("pre");
    box.setAttribute("data-samples", g.samples.join(","));
    meta.appendChild(el("span", "", (g.samples.length > 1 ? "samples " : "sample ") + g.samples.join(", ")));
    if (g.samples.length > 1) { meta.appendChild(el("span", "badge count", "\u00d7" + g.samples.length)); }
    meta.appendChild(el("span", "", "finish: " + (g.fin || "-")));
    if (g.err) { meta.appendChild(el("span", "badge bad", "error " + g.err)); }
    badges(meta, g);
    if (shared[g.ti] > 1) { meta.appendChild(el("span", "badge same", "same text in " + (shared[g.ti] - 1) + " other cell(s)")); }
    var bti = baseText[g.samples[0]], text = D.texts[g.ti], note = null;
    if (ci !== S.base && bti !== undefined && bti === g.ti) {
      meta.appendChild(el("span", "badge same", "= baseline"));
      addText(pre, text);
    } else if (S.diff && ci !== S.base && bti !== undefined && !g.err) {
      var d = wordDiff(D.texts[bti], text);
      pre.className = "diff";
      d.ops.forEach(function (op) {
        if (op[0] === 0) { addText(pre, op[1]); return; }
        var span = el(op[0] < 0 ? "del" : "ins");
        addText(span, op[1]);
        pre.appendChild(span);
      });
      if (d.bounded) { note = "texts too long for a word diff: the changed middle is shown whole"; }
    } else {
      addText(pre, text);
    }
    box.appendChild(meta); box.appendChild(pre);
    if (D.cut[g.ti]) { box.appendChild(el("div", "cut", "\u2026 cut for the page at " + text.length + " of " + D.cut[g.ti] + " characters")); }
    if (note) { box.appendChild(el("div", "cut", note)); }
    return box;
  }
  function column(col, pid, baseSig, sameSig, baseText, shared) {
    var ci = col.ci, box = el("div", "cmp-col" + (ci === S.base ? " base" : "") + (ci === S.cell ? " focus" : ""));
    var head = el("div", "cmp-head"), title = el("button", "cmp-title", label(ci));
    box.setAttribute("data-cell", D.cells[ci][0]);
    title.title = "focus this cell (and put it in the permalink)";
    title.addEventListener("click", function () { S.cell = ci; update(); });
    head.appendChild(title);
    if (ci === S.base) { head.appendChild(el("span", "badge count", "baseline")); }
    else {
      if (col.sig && col.sig === baseSig) { head.appendChild(el("span", "badge same", "identical to baseline")); }
      var sb = el("button", "setbase", "set as baseline");
      sb.addEventListener("click", function () { S.base = ci; update(); });
      head.appendChild(sb);
    }
    var twins = (sameSig[col.sig] || []).filter(function (i) { return i !== ci; });
    if (col.sig && twins.length) {
      var t = el("span", "badge same", "identical outputs in " + twins.length + " other cell(s)");
      t.title = twins.map(label).map(plain).join("\n");
      head.appendChild(t);
    }
    var total = (D.more[ci] || {})[pid];
    if (total) { head.appendChild(el("span", "badge warn", rows(ci, pid).length + " of " + total + " samples embedded")); }
    box.appendChild(head);
    if (!col.gs.length) { box.appendChild(el("p", "note", "No output embedded for this prompt.")); }
    col.shown.forEach(function (g) { box.appendChild(output(g, ci, pid, baseText, shared)); });
    if (col.shown.length < col.gs.length) { box.appendChild(el("p", "note", (col.gs.length - col.shown.length) + " distinct output(s) hidden by the filters")); }
    return box;
  }

  var grid = $("cmp-grid"), promptSel = $("cmp-prompt");
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function render() {
    var list = visiblePrompts();
    if (S.prompt === null || list.indexOf(S.prompt) < 0) { S.prompt = list.length ? list[0] : null; }
    clear(promptSel);
    list.forEach(function (p) {
      var o = el("option", "", p + "  " + promptText[p].slice(0, 90).replace(/\s+/g, " "));
      o.value = p; promptSel.appendChild(o);
    });
    promptSel.value = S.prompt === null ? "" : S.prompt;
    $("cmp-pos").textContent = list.length ? "prompt " + (list.indexOf(S.prompt) + 1) + " of " + list.length +
      (list.length < promptIds.length ? " matching (" + promptIds.length + " embedded)" : "") : "";
    clear(grid); clear($("cmp-prompt-text"));
    if (S.prompt === null) { $("cmp-status").textContent = "No prompt matches the search and filters."; return; }
    var pid = S.prompt, cols = columns(pid), sameSig = {}, shared = {}, baseText = {};
    addText($("cmp-prompt-text"), promptText[pid]);
    D.cells.forEach(function (c, ci) {
      var sig = signature(ci, pid), seen = {};
      if (sig) { (sameSig[sig] = sameSig[sig] || []).push(ci); }
      rows(ci, pid).forEach(function (r) { if (!seen[r[1]]) { seen[r[1]] = 1; shared[r[1]] = (shared[r[1]] || 0) + 1; } });
    });
    rows(S.base, pid).forEach(function (r) { baseText[r[0]] = r[1]; });
    var baseSig = signature(S.base, pid), hidden = 0, focus = null;
    cols.forEach(function (col) {
      var node = column(col, pid, baseSig, sameSig, baseText, shared);
      hidden += col.gs.length - col.shown.length;
      if (col.ci === S.cell) { focus = node; }
      grid.appendChild(node);
    });
    $("cmp-status").textContent = (cols.length) + " of " + D.cells.length + " cells shown" +
      (filtering() ? "; " + hidden + " distinct output(s) hidden by the filters (the baseline is always shown in full)" : "") +
      (S.cell !== null && !focus ? "; the focused cell is hidden by the filters" : "") + ".";
    if (focus) { grid.scrollLeft = Math.max(0, focus.offsetLeft - grid.offsetLeft - 40); }
  }

  function hashOf() {
    var p = [], enc = encodeURIComponent;
    if (S.prompt !== null) { p.push("prompt=" + enc(S.prompt)); }
    if (S.cell !== null) { p.push("cell=" + enc(D.cells[S.cell][0])); }
    if (S.base !== D.baseline) { p.push("base=" + enc(D.cells[S.base][0])); }
    if (S.q) { p.push("q=" + enc(S.q)); }
    ["loop", "fail", "differ"].forEach(function (k) { if (S[k]) { p.push(k + "=1"); } });
    if (thresholdOn()) { p.push("metric=" + enc(S.metric), "op=" + S.op, "thr=" + enc(S.thr)); }
    if (!S.diff) { p.push("diff=0"); }
    return "#compare/" + p.join("&");
  }
  function readHash(h) {
    var kv = {};
    h.slice("#compare/".length).split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i < 1) { return; }
      try { kv[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1)); } catch (e) { /* ignore a bad pair */ }
    });
    var has = function (k) { return Object.prototype.hasOwnProperty.call(kv, k); };
    S.cell = has("cell") && cellIndex.hasOwnProperty(kv.cell) ? cellIndex[kv.cell] : null;
    S.base = has("base") && cellIndex.hasOwnProperty(kv.base) ? cellIndex[kv.base] : D.baseline;
    S.q = kv.q || ""; S.loop = kv.loop === "1"; S.fail = kv.fail === "1"; S.differ = kv.differ === "1";
    S.metric = metricAt.hasOwnProperty(kv.metric) ? kv.metric : ""; S.op = kv.op === "le" ? "le" : "ge";
    S.thr = kv.thr || ""; S.diff = kv.diff !== "0";
    if (has("prompt") && promptText.hasOwnProperty(kv.prompt)) { S.prompt = kv.prompt; }
    else if (S.cell !== null && (S.prompt === null || !rows(S.cell, S.prompt).length)) {
      S.prompt = promptIds.filter(function (p) { return rows(S.cell, p).length; })[0] || S.prompt;
    }
    controls();
  }
  function controls() {  // state -> form controls
    $("cmp-q").value = S.q; $("cmp-base").value = String(S.base); $("cmp-diff").checked = S.diff;
    $("cmp-loop").checked = S.loop; $("cmp-fail").checked = S.fail; $("cmp-differ").checked = S.differ;
    $("cmp-metric").value = S.metric; $("cmp-op").value = S.op; $("cmp-thr").value = S.thr;
  }
  function update() {
    render();
    var h = hashOf();
    $("cmp-link").href = h;
    if (location.hash !== h) { history.replaceState(null, "", h); }
  }
  function step(d) {
    var list = visiblePrompts(), i = list.indexOf(S.prompt) + d;
    if (i >= 0 && i < list.length) { S.prompt = list[i]; update(); }
  }

  D.cells.forEach(function (c, i) { var o = el("option", "", label(i)); o.value = String(i); $("cmp-base").appendChild(o); });
  D.metrics.forEach(function (m) { var o = el("option", "", m); o.value = m; $("cmp-metric").appendChild(o); });
  if (metricAt.check_pass === undefined) { $("cmp-fail").disabled = true; $("cmp-fail").parentNode.title = "no check_pass scores in these runs"; }
  if (metricAt.loop === undefined) { $("cmp-loop").disabled = true; }
  function on(id, ev, f) { $(id).addEventListener(ev, function () { f($(id)); update(); }); }
  on("cmp-q", "input", function (x) { S.q = x.value; });
  on("cmp-prompt", "change", function (x) { S.prompt = x.value; });
  on("cmp-base", "change", function (x) { S.base = parseInt(x.value, 10); });
  on("cmp-diff", "change", function (x) { S.diff = x.checked; });
  on("cmp-loop", "change", function (x) { S.loop = x.checked; });
  on("cmp-fail", "change", function (x) { S.fail = x.checked; });
  on("cmp-differ", "change", function (x) { S.differ = x.checked; });
  on("cmp-metric", "change", function (x) { S.metric = x.value; });
  on("cmp-op", "change", function (x) { S.op = x.value; });
  on("cmp-thr", "input", function (x) { S.thr = x.value; });
  $("cmp-prev").addEventListener("click", function () { step(-1); });
  $("cmp-next").addEventListener("click", function () { step(1); });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) { return; }
    var tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (e.target && e.target.isContentEditable)) { return; }
    var r = section.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) { return; }
    e.preventDefault();
    step(e.key === "ArrowLeft" ? -1 : 1);
  });
  function fromHash() {
    if (location.hash.indexOf("#compare/") !== 0) { return false; }
    readHash(location.hash);
    update();
    section.scrollIntoView();
    return true;
  }
  window.addEventListener("hashchange", fromHash);
  if (!fromHash()) { controls(); render(); $("cmp-link").href = hashOf(); }
}());
