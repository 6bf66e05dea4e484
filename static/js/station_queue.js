// 候诊队列 page: refresh the queue whenever someone is checked in or leaves, at this or another desk.
(function () {
  "use strict";
  var root = document.getElementById("station-queue");
  if (!root) { return; }
  var panel = document.getElementById("queue-panel");
  function refresh() {
    StationLive.fetchHtml(root.getAttribute("data-queue-url")).then(function (html) {
      panel.innerHTML = html;
      StationWait.stamp(panel);
      StationWait.tick();
    });
  }
  StationLive.connect(root.getAttribute("data-events-url"), { queue: refresh });
  window.setInterval(refresh, 60000);
})();
