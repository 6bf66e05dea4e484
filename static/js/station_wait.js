// Waiting times that keep ticking: each .js-wait carries the seconds waited when the page
// (or the fragment) was rendered by the server; we add the time elapsed since then.
(function () {
  "use strict";
  var LONG_WAIT_SECONDS = 45 * 60;

  function format(seconds) {
    var minutes = Math.floor(Math.max(seconds, 0) / 60);
    if (minutes < 60) { return minutes + "分钟"; }
    return Math.floor(minutes / 60) + "小时" + (minutes % 60) + "分钟";
  }

  function stamp(root) {
    var now = Date.now();
    (root || document).querySelectorAll(".js-wait:not([data-rendered-at])").forEach(function (el) {
      el.setAttribute("data-rendered-at", String(now));
    });
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".js-wait[data-rendered-at]").forEach(function (el) {
      var base = parseInt(el.getAttribute("data-wait-seconds"), 10) || 0;
      var since = parseInt(el.getAttribute("data-rendered-at"), 10) || now;
      var seconds = base + Math.floor((now - since) / 1000);
      el.textContent = format(seconds);
      el.classList.toggle("wait-long", seconds >= LONG_WAIT_SECONDS);
    });
  }

  window.StationWait = { stamp: stamp, tick: tick, format: format };
  stamp(document);
  tick();
  window.setInterval(tick, 1000);
})();
