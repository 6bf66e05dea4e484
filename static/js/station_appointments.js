// 预约管理 people list: tick all on the page, and 全部… buttons that act on every matching person.
(function () {
  "use strict";
  var form = document.getElementById("people-form");
  if (!form) { return; }
  var scope = document.getElementById("scope");
  var tickAll = document.getElementById("tick-all");
  if (tickAll) {
    tickAll.addEventListener("change", function () {
      form.querySelectorAll("input[name=person_id]").forEach(function (box) { box.checked = tickAll.checked; });
    });
  }
  form.querySelectorAll("button[type=submit]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      var all = button.classList.contains("js-scope-all");
      if (button.value === "cancel" && !form.querySelector("#reason").value.trim()) {
        event.preventDefault();
        window.alert("请填写取消原因");
        return;
      }
      if (!all && !form.querySelector("input[name=person_id]:checked")) {
        event.preventDefault();
        window.alert("请先勾选人员");
        return;
      }
      var question = button.getAttribute("data-confirm");
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      scope.value = all ? "all" : "ticked";
    });
  });
})();
