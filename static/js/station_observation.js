// 留观 board: every row counts down each second; the rows reload every few seconds and at once
// when the station's live stream says an observation changed. Nothing here needs a click.
(function () {
  "use strict";
  var board = document.getElementById("observation-board");
  if (!board) { return; }
  var rows = document.getElementById("observation-rows");
  var clock = document.getElementById("observation-clock");
  var seconds = parseInt(board.getAttribute("data-refresh-seconds"), 10) || 5;
  var loadedAt = Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var elapsed = Math.floor((Date.now() - loadedAt) / 1000);
    var now = new Date();
    clock.textContent = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
    Array.prototype.forEach.call(rows.querySelectorAll(".observation-left"), function (cell) {
      var left = parseInt(cell.getAttribute("data-left-seconds"), 10) - elapsed;
      var row = cell.parentNode;
      if (left > 0) {
        cell.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      } else {
        cell.textContent = "已满，可离开";
        row.classList.add("observation-done");
      }
    });
  }

  function reload() {
    // A row being typed into (the early-leave reason) is not replaced under the nurse's fingers.
    if (rows.contains(document.activeElement) && document.activeElement.tagName === "INPUT") { return; }
    window.StationLive.fetchHtml(board.getAttribute("data-panel-url")).then(function (html) {
      rows.innerHTML = html;
      loadedAt = Date.now();
      tick();
    }).catch(function () {});
  }

  window.setInterval(tick, 1000);
  window.setInterval(reload, seconds * 1000);
  window.StationLive.connect(board.getAttribute("data-events-url"), { observation: reload }, null);
})();
