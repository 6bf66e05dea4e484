// The station's live event stream (Server-Sent Events), shared by the desk and the queue page.
// EventSource reconnects by itself; the status badge tells the desk whether pushes arrive.
(function () {
  "use strict";

  function connect(url, handlers, statusElement) {
    var source = new EventSource(url);
    function show(state, text) {
      if (!statusElement) { return; }
      statusElement.setAttribute("data-state", state);
      statusElement.textContent = text;
    }
    source.addEventListener("open", function () { show("open", "实时推送已连接"); });
    source.addEventListener("error", function () { show("error", "实时推送已断开，正在重连…"); });
    Object.keys(handlers).forEach(function (type) {
      source.addEventListener(type, function (message) {
        var data = {};
        try { data = JSON.parse(message.data); } catch (ignored) { return; }
        handlers[type](data);
      });
    });
    return source;
  }

  function fetchHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      });
  }

  window.StationLive = { connect: connect, fetchHtml: fetchHtml };
})();
