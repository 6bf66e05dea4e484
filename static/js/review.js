// 审核部门端 list: 退回 the ticked rows (ticked_rows.js) with a reason in a dialog. 批量审核 is a
// data-model-action button, posted through Flask-Admin's action form (admin_csp.js).
(function () {
  var openButton = document.getElementById("return-open");
  var form = document.getElementById("return-form");
  if (!openButton || !form) {
    return;
  }
  openButton.addEventListener("click", function () {
    var ids = window.TickedRows.ids();
    if (ids.length === 0) {
      window.alert("请先勾选要退回的人员");
      return;
    }
    document.getElementById("return-count").textContent = ids.length;
    window.jQuery("#return-modal").modal("show");
  });
  form.addEventListener("submit", function (event) {
    var reason = document.getElementById("return-reason");
    var ids = window.TickedRows.ids();
    if (!reason.value.trim() || ids.length === 0) {
      event.preventDefault();
      reason.focus();
      return;
    }
    window.TickedRows.carry(form, ids);
    form.querySelector("button[type=submit]").disabled = true;
  });
})();
