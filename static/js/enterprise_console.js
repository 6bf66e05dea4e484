// 企业端 人员清单: 提交接种人员 / 导出选中 act on the ticked rows through Flask-Admin's action form.
(function () {
  document.querySelectorAll("[data-batch-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (window.modelActions) {
        window.modelActions.execute(button.getAttribute("data-batch-action"));
      }
    });
  });
})();
