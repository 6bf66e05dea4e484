// The ticked rows of a console list (center and review): which ids are ticked, and carrying them
// into a form as the rowid fields that Flask-Admin's action form posts.
(function () {
  "use strict";

  // Only the list's own boxes: Flask-Admin's hidden action form holds clones of them.
  function ids() {
    return Array.prototype.map.call(
      document.querySelectorAll("table.model-list input.action-checkbox:checked"),
      function (box) { return box.value; }
    );
  }

  function carry(form, rowIds) {
    form.querySelectorAll("input[name=rowid]").forEach(function (input) { input.remove(); });
    rowIds.forEach(function (id) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "rowid";
      input.value = id;
      form.appendChild(input);
    });
  }

  window.TickedRows = { ids: ids, carry: carry };
})();
