// 实时监测: refresh the dashboard's figures every 10 seconds from the console's JSON endpoint.
(function () {
  var board = document.querySelector("[data-live-url]");
  if (!board || !window.fetch) {
    return;
  }
  var url = board.getAttribute("data-live-url");
  var clock = board.querySelector("[data-live-clock]");
  var cells = {};
  board.querySelectorAll("[data-live-key]").forEach(function (cell) {
    cells[cell.getAttribute("data-live-key")] = cell;
  });

  function refresh() {
    if (document.hidden) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (data) {
        Object.keys(data.values).forEach(function (key) {
          var cell = cells[key];
          var text = String(data.values[key]);
          if (cell && cell.textContent !== text) {
            cell.textContent = text;
            cell.classList.add("live-changed");
            window.setTimeout(function () { cell.classList.remove("live-changed"); }, 1500);
          }
        });
        if (clock) {
          clock.textContent = data.updated_at;
        }
        board.classList.remove("live-stale");
      })
      .catch(function () {
        board.classList.add("live-stale");
      });
  }

  window.setInterval(refresh, 10000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      refresh();
    }
  });
})();
