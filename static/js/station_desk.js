// 入站登记: show each card read as it arrives, look up typed ID numbers, check people in.
// The nurse works by keyboard and scanner: the cursor goes back to the ID field after every
// action (where a scanner types next), and Enter there with nothing typed is 登记 of the read shown.
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

  function backToIdField() {
    lookupInput.focus();
  }

  StationLive.connect(desk.getAttribute("data-events-url"), {
    card_read: function (event) {
      showRead(event.read).then(backToIdField);
      refreshRecent();
    },
    queue: function () { refreshQueue(); }
  }, document.getElementById("live-status"));
  // The day's average and longest wait move with the clock, too.
  window.setInterval(refreshQueue, 60000);

  // Enter with an empty ID field: 登记 of the read shown, if it can be checked in.
  function checkInShownRead() {
    var form = readPanel.querySelector("form.check-in-form");
    var button = form && form.querySelector("button[type=submit]");
    if (!form) {
      lookupError.textContent = readPanel.querySelector(".read-card[data-read-id]")
        ? "当前显示的人员无需或不能登记，请读下一张证件" : "请先读卡，或输入身份证号后按回车查询";
      return;
    }
    if (!button.disabled) { form.requestSubmit(button); }
  }

  lookupForm.addEventListener("submit", function (event) {
    event.preventDefault();
    lookupError.textContent = "";
    if (!lookupInput.value.trim()) {
      checkInShownRead();
      backToIdField();
      return;
    }
    post(lookupForm.action, new FormData(lookupForm)).then(function (result) {
      if (result.ok) {
        readPanel.innerHTML = result.html;
        readPanel.setAttribute("data-shown-read", String(result.read));
        lookupInput.value = "";
        refreshRecent();
      } else {
        lookupError.textContent = result.message;
      }
      backToIdField();
    });
  });
  document.addEventListener("station:queue-empty", function () {
    lookupError.textContent = "当前没有候诊人员";
    backToIdField();
  });

  // 登记 (and any other small form in the read panel) without leaving the page.
  readPanel.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("js-post")) { return; }
    event.preventDefault();
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { backToIdField(); return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var readId = form.querySelector("input[name=read_id]");
    post(form.action, new FormData(form)).then(function (result) {
      var done = readId ? showRead(readId.value) : Promise.resolve();
      done.then(function () { toast(result.message, result.ok); refreshQueue(); backToIdField(); });
    });
  });

  recent.addEventListener("click", function (event) {
    var link = event.target.closest("a.js-show-read");
    if (!link) { return; }
    event.preventDefault();
    showRead(link.getAttribute("data-read")).then(backToIdField);
  });
})();
