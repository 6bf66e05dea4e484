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
