// 审核部门端 list: 批量审核 through Flask-Admin's action form, 退回 with a reason in a dialog.
(function () {
  function tickedIds() {
    return Array.prototype.map.call(
      document.querySelectorAll("input.action-checkbox:checked"),
      function (box) { return box.value; }
    );
  }

  document.querySelectorAll("[data-batch-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (window.modelActions) {
        window.modelActions.execute(button.getAttribute("data-batch-action"));
      }
    });
  });

  var openButton = document.getElementById("return-open");
  var form = document.getElementById("return-form");
  if (!openButton || !form) {
    return;
  }
  openButton.addEventListener("click", function () {
    var ids = tickedIds();
    if (ids.length === 0) {
      window.alert("请先勾选要退回的人员");
      return;
    }
    document.getElementById("return-count").textContent = ids.length;
    window.jQuery("#return-modal").modal("show");
  });
  form.addEventListener("submit", function (event) {
    var reason = document.getElementById("return-reason");
    var ids = tickedIds();
    if (!reason.value.trim() || ids.length === 0) {
      event.preventDefault();
      reason.focus();
      return;
    }
    form.querySelectorAll("input[name=rowid]").forEach(function (input) { input.remove(); });
    ids.forEach(function (id) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "rowid";
      input.value = id;
      form.appendChild(input);
    });
    form.querySelector("button[type=submit]").disabled = true;
  });
})();
