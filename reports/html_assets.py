"""CSS and JavaScript inlined into the report page (no external resource of any kind).

The script never uses innerHTML: model text is inserted as text nodes (see
``reports/viewer_assets.py`` for the output viewer), and the page's Content-Security-Policy
allows only this one script (by hash), data: images and inline styles.
"""

from hfsweep.reports.viewer_assets import VIEWER_CSS, VIEWER_JS

_PAGE_CSS = """
:root { --fg:#1b1b1b; --muted:#555; --line:#d6d6d6; --bg:#fff; --alt:#f5f7fa; --accent:#0072B2; --warn:#D55E00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg);
       margin: 0; }
header { background: #0b3d62; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; opacity: .85; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 24px; z-index: 2;
      display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; }
main { padding: 8px 24px 40px; max-width: 1500px; }
section { margin: 22px 0 30px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--accent); padding-bottom: 3px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.note { color: var(--muted); font-size: 13px; }
.warn { color: var(--warn); }
.box { background: var(--alt); border-left: 4px solid var(--accent); padding: 8px 12px; margin: 8px 0; }
.box.warnbox { border-left-color: var(--warn); }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
td { white-space: nowrap; }
td.long { white-space: normal; min-width: 22em; max-width: 50em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: var(--alt); position: relative; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #999; font-size: 10px; }
tr.hl td { background: #fff4e0; }
.pager { font-size: 12px; color: var(--muted); margin: 2px 0 10px; }
.pager button { font-size: 12px; margin: 0 3px; }
.figs { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
.figs figure.small { flex: 0 1 440px; }
figure { margin: 10px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
code { font-size: 12px; }
"""

_PAGE_JS = r"""
(function () {
  "use strict";
  function parseValue(v) {
    var f = parseFloat(v);
    return (v !== "" && isFinite(f) && String(v).trim().match(/^[-+0-9.eE]+$/)) ? f : v.toLowerCase();
  }
  function cellValue(td) {
    var v = td.getAttribute("data-v");
    return parseValue(v === null ? td.textContent : v);
  }
  function compare(x, y, asc) {
    if (typeof x !== typeof y) { return (typeof x === "number") ? -1 : 1; }
    return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
  }
  // A long table carries its rows as data (reports/html.py table()): [text, sort value, link, class] per cell.
  function rowData(table) {
    if (table.__rows === undefined) {
      var script = table.nextElementSibling;
      table.__rows = null;
      if (script && script.classList.contains("table-rows")) {
        var data = JSON.parse(script.textContent), hl = {};
        data.hl.forEach(function (i) { hl[i] = true; });
        table.__rows = data.rows.map(function (cells, i) { return {cells: cells, hl: !!hl[i]}; });
      }
    }
    return table.__rows;
  }
  function drawRow(row) {
    var tr = document.createElement("tr");
    if (row.hl) { tr.className = "hl"; }
    row.cells.forEach(function (c) {
      var td = document.createElement("td");
      if (c[3]) { td.className = c[3]; }
      if (c[1] !== null) { td.setAttribute("data-v", c[1]); }
      if (c[2]) { var a = document.createElement("a"); a.href = c[2]; a.textContent = c[0]; td.appendChild(a); }
      else { td.textContent = c[0]; }
      tr.appendChild(td);
    });
    return tr;
  }
  // A table with data-page always carries its rows as data (html.py writes both or neither).
  function page(table, start) {
    var size = parseInt(table.getAttribute("data-page"), 10), data = rowData(table), n = data.length;
    start = Math.max(0, Math.min(start, Math.floor((n - 1) / size) * size));
    table.setAttribute("data-start", String(start));
    var body = document.createElement("tbody");
    data.slice(start, start + size).forEach(function (row) { body.appendChild(drawRow(row)); });
    table.replaceChild(body, table.tBodies[0]);
    var label = table.parentNode.nextElementSibling.querySelector(".range");
    label.textContent = "Rows " + (start + 1) + "-" + Math.min(n, start + size) + " of " + n;
  }
  function setupPager(table) {
    var size = parseInt(table.getAttribute("data-page"), 10);
    var bar = document.createElement("div");
    bar.className = "pager";
    var prev = document.createElement("button"), next = document.createElement("button"), span = document.createElement("span");
    prev.textContent = "< Prev"; next.textContent = "Next >"; span.className = "range";
    prev.addEventListener("click", function () { page(table, parseInt(table.getAttribute("data-start") || "0", 10) - size); });
    next.addEventListener("click", function () { page(table, parseInt(table.getAttribute("data-start") || "0", 10) + size); });
    bar.appendChild(prev); bar.appendChild(span); bar.appendChild(next);
    table.parentNode.parentNode.insertBefore(bar, table.parentNode.nextSibling);
    page(table, 0);
  }
  function setupSort(table) {
    var ths = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(ths, function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("data-dir") !== "asc";
        Array.prototype.forEach.call(ths, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", asc ? "asc" : "desc");
        var data = rowData(table);
        if (data) {
          data.sort(function (a, b) {
            var x = a.cells[col], y = b.cells[col];
            return compare(parseValue(x[1] !== null ? x[1] : x[0]), parseValue(y[1] !== null ? y[1] : y[0]), asc);
          });
        } else {
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) { return compare(cellValue(a.cells[col]), cellValue(b.cells[col]), asc); });
          rows.forEach(function (r) { body.appendChild(r); });
        }
        page(table, 0);
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), setupSort);
  Array.prototype.forEach.call(document.querySelectorAll("table[data-page]"), setupPager);
}());
"""

CSS = _PAGE_CSS + VIEWER_CSS
JS = _PAGE_JS + VIEWER_JS
