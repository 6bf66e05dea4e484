// Console helpers: confirmation dialogs for 全部… buttons and a busy state while posting.
(function () {
  document.querySelectorAll("form.bulk-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
        return;
      }
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = "处理中…";
      }
    });
  });
})();

// Downloads that take a while (导出全部 of tens of thousands of rows): the link says 正在导出… until
// the file has arrived, then the page says which file was saved. Anything that is not a spreadsheet
// (a login page after the session ended, an error page) is opened as a normal link instead.
(function () {
  function filenameOf(response) {
    var header = response.headers.get("Content-Disposition") || "";
    var encoded = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (encoded) { return decodeURIComponent(encoded[1]); }
    var plain = /filename="?([^";]+)"?/i.exec(header);
    return plain ? plain[1] : "export.xlsx";
  }
  function say(link, text, ok) {
    var note = document.createElement("div");
    note.className = "alert alert-" + (ok ? "success" : "danger") + " download-note";
    note.setAttribute("role", "status");
    note.textContent = text;
    var bar = link.closest(".nav, .list-tools") || link.parentNode;
    bar.parentNode.insertBefore(note, bar);
  }
  document.querySelectorAll("a[data-download]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!window.fetch || !window.URL || !URL.createObjectURL) { return; }
      event.preventDefault();
      if (link.getAttribute("aria-busy") === "true") { return; }
      var label = link.textContent;
      link.setAttribute("aria-busy", "true");
      link.classList.add("disabled");
      link.textContent = "正在导出…";
      function done() {
        link.textContent = label;
        link.classList.remove("disabled");
        link.removeAttribute("aria-busy");
      }
      fetch(link.href, { credentials: "same-origin" }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("spreadsheetml") < 0) {
          done();
          window.location.href = link.href;
          return null;
        }
        var name = filenameOf(response);
        return response.blob().then(function (blob) {
          var save = document.createElement("a");
          save.href = URL.createObjectURL(blob);
          save.download = name;
          document.body.appendChild(save);
          save.click();
          save.remove();
          window.setTimeout(function () { URL.revokeObjectURL(save.href); }, 60000);
          done();
          say(link, "已导出：" + name, true);
        });
      }).catch(function () {
        done();
        say(link, "导出失败，请检查网络后重试", false);
      });
    });
  });
})();
