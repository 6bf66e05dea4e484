// The dashboard's AEFI alert: fetched every few seconds so a serious report shows at once.
(function () {
  "use strict";
  var box = document.getElementById("aefi-alerts");
  if (!box) { return; }
  function load() {
    fetch(box.getAttribute("data-url"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () {});
  }
  window.setInterval(load, 5000);
})();
