// Console lists on a phone (app.css): each row of a table.model-list is a card of "列名：值" lines.
// Every cell gets its column's header as data-label — a header of two rows (今日 over 第1剂) gives
// "今日 第1剂" — and a column whose header is marked .phone-hide is left off the card. Flask-Admin's
// lists and the hand-written ones alike; tables a page reloads into place (留观, 接种进度) are
// labelled again when they arrive.
(function () {
  "use strict";
  function columnHeaders(table) {
    var grid = [];
    Array.prototype.forEach.call(table.querySelectorAll("thead tr"), function (row, r) {
      grid[r] = grid[r] || [];
      var c = 0;
      Array.prototype.forEach.call(row.children, function (th) {
        while (grid[r][c]) { c += 1; }
        var span = th.colSpan || 1, down = th.rowSpan || 1;
        for (var i = 0; i < down; i += 1) {
          grid[r + i] = grid[r + i] || [];
          for (var j = 0; j < span; j += 1) { grid[r + i][c + j] = th; }
        }
        c += span;
      });
    });
    var columns = [];
    grid.forEach(function (row) {
      row.forEach(function (th, c) {
        var column = columns[c] = columns[c] || { texts: [], hide: false };
        var text = th.textContent.trim();
        if (text && column.texts.indexOf(text) < 0) { column.texts.push(text); }
        if (th.classList.contains("phone-hide")) { column.hide = true; }
      });
    });
    return columns;
  }

  function label(table) {
    var columns = columnHeaders(table);
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var c = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        var column = columns[c];
        c += cell.colSpan || 1;
        if (cell.colSpan > 1 || !column) { return; }  // a row saying the list is empty
        if (column.texts.length && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", column.texts.join(" ")); }
        if (column.hide) { cell.classList.add("phone-hide"); }
        if (!cell.textContent.trim() && !cell.querySelector("input, a, button, img, select, svg")) { cell.classList.add("blank-cell"); }
      });
    });
  }

  function labelWithin(root) {
    if (root.matches && root.matches("table.model-list")) { label(root); }
    if (root.querySelectorAll) { root.querySelectorAll("table.model-list").forEach(label); }
  }

  labelWithin(document);
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      Array.prototype.forEach.call(change.addedNodes, function (node) {
        if (node.nodeType === 1) { labelWithin(node); }
      });
    });
  }).observe(document.body, { childList: true, subtree: true });
})();
