// 入站登记: show each card read as it arrives, look up typed ID numbers, check people in.
(function () {
  "use strict";
  var desk = document.getElementById("station-desk");
  if (!desk) { return; }
  var readPanel = document.getElementById("read-panel");
  var recent = document.getElementById("recent-reads");
  var queue = document.getElementById("queue-panel");
  var lookupForm = document.getElementById("manual-lookup");
  var lookupInput = document.getElementById("manual-id-number");
  var lookupError = document.getElementById("lookup-error");
  var csrf = desk.getAttribute("data-csrf");
  var readUrl = desk.getAttribute("data-read-url");

  function showRead(readId) {
    return StationLive.fetchHtml(readUrl.replace(/\/0$/, "/" + readId)).then(function (html) {
      readPanel.innerHTML = html;
      readPanel.setAttribute("data-shown-read", String(readId));
    });
  }
  function refreshRecent() {
    return StationLive.fetchHtml(desk.getAttribute("data-recent-url")).then(function (html) { recent.innerHTML = html; });
  }
  function refreshQueue() {
    return StationLive.fetchHtml(desk.getAttribute("data-queue-url")).then(function (html) {
      queue.innerHTML = html;
      StationWait.stamp(queue);
      StationWait.tick();
    });
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrf }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, message: "请求失败（" + response.status + "）" }; });
    });
  }
  function toast(message, ok) {
    lookupError.textContent = ok ? "" : message;
    var note = document.createElement("div");
    note.className = "alert alert-" + (ok ? "success" : "danger") + " desk-toast";
    note.setAttribute("role", "status");
    note.textContent = message;
    readPanel.insertBefore(note, readPanel.firstChild);
  }

  StationLive.connect(desk.getAttribute("data-events-url"), {
    card_read: function (event) {
      showRead(event.read);
      refreshRecent();
    },
    queue: function () { refreshQueue(); }
  }, document.getElementById("live-status"));
  // The day's average and longest wait move with the clock, too.
  window.setInterval(refreshQueue, 60000);

  lookupForm.addEventListener("submit", function (event) {
    event.preventDefault();
    lookupError.textContent = "";
    post(lookupForm.action, new FormData(lookupForm)).then(function (result) {
      if (!result.ok) { lookupError.textContent = result.message; return; }
      readPanel.innerHTML = result.html;
      readPanel.setAttribute("data-shown-read", String(result.read));
      lookupInput.value = "";
      refreshRecent();
    });
  });

  // 登记 (and any other small form in the read panel) without leaving the page.
  readPanel.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("js-post")) { return; }
    event.preventDefault();
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var readId = form.querySelector("input[name=read_id]");
    post(form.action, new FormData(form)).then(function (result) {
      var done = readId ? showRead(readId.value) : Promise.resolve();
      done.then(function () { toast(result.message, result.ok); refreshQueue(); lookupInput.focus(); });
    });
  });

  recent.addEventListener("click", function (event) {
    var link = event.target.closest("a.js-show-read");
    if (!link) { return; }
    event.preventDefault();
    showRead(link.getAttribute("data-read"));
  });
})();
