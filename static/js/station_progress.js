// 接种进度 refreshes itself every few seconds.
(function () {
  "use strict";
  var root = document.getElementById("progress");
  if (!root) { return; }
  var panel = document.getElementById("progress-panel");
  var seconds = parseInt(root.getAttribute("data-refresh-seconds"), 10) || 10;
  window.setInterval(function () {
    fetch(root.getAttribute("data-panel-url"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html) { panel.innerHTML = html; } })
      .catch(function () {});
  }, seconds * 1000);
})();
