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
  // The wall clock is the server's campaign time (the page's first value) moved on by the
  // browser's elapsed time: a display set to another time zone or a wrong clock still shows
  // the times the rows and the desk use.
  var pageLoadedAt = loadedAt;
  var serverSecondsOfDay = (function (text) {
    var parts = text.split(":");
    return parts.length === 3 ? (+parts[0]) * 3600 + (+parts[1]) * 60 + (+parts[2]) : null;
  })(clock.textContent.trim());

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var elapsed = Math.floor((Date.now() - loadedAt) / 1000);
    if (serverSecondsOfDay !== null) {
      var ofDay = (serverSecondsOfDay + Math.floor((Date.now() - pageLoadedAt) / 1000)) % 86400;
      clock.textContent = pad(Math.floor(ofDay / 3600)) + ":" + pad(Math.floor(ofDay / 60) % 60) + ":" + pad(ofDay % 60);
    }
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
