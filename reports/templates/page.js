/* The report page's script: sortable tables and paged long tables (rows drawn from their
   application/json data). It never uses innerHTML: text goes in with textContent. The page's
   Content-Security-Policy allows only this script (by its hash, computed by reports/html.py over
   page.js + viewer.js as embedded), data: images and inline styles. */
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
  // A long table carries its rows as data (the table macro, templates/macros.html): [text, sort value, link, class] per cell.
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
  // A table with data-page always carries its rows as data (the table macro writes both or neither).
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
