// What Flask-Admin's inline handlers did, from a file (the Content-Security-Policy forbids inline script):
// the 批量 action menu, the filter menu, and confirmations on buttons with data-confirm.
(function () {
  document.addEventListener("click", function (event) {
    // Flask-Admin's placeholders (href="javascript:void(0)") would be blocked by the policy when followed.
    var link = event.target.closest("a[href='#'], a[href^='javascript:']");
    if (link && (link.matches("[data-model-action], a.filter, [data-toggle], a[href^='javascript:']"))) {
      event.preventDefault();
    }
    var action = event.target.closest("[data-model-action]");
    if (action && window.modelActions) {
      window.modelActions.execute(action.getAttribute("data-model-action"));
    }
    var button = event.target.closest("button[data-confirm]");
    if (button && !button.closest("form.bulk-form, form.ticked-form, form.ticked-capable") && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();

// Buttons that ask before they post wait for this (static/css/app.css): DOMContentLoaded comes
// after every synchronous script of the page, so each page's confirmation handler is in place.
document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.classList.add("scripts-ready");
});
