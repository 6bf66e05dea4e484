// Center console lists: ticked-row forms (批量…, the rows from ticked_rows.js), the department tree loading enterprises when opened.
(function () {
  // The question names how many people the post acts on: the ticked rows or the list, no more
  // than a 预约人数 field of the form allows (the booking stops there).
  function question(form, submitter, rows) {
    var text = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (!text) {
      return null;
    }
    var amountField = form.querySelector("input[name=amount]");
    var amount = amountField ? parseInt(amountField.value, 10) : NaN;
    var n = amount > 0 && amount < rows ? amount : rows;
    if (n < rows && submitter && submitter.getAttribute("data-confirm-capped")) {
      text = submitter.getAttribute("data-confirm-capped");
    }
    return text.split("{n}").join(n).split("{rows}").join(rows);
  }

  // A form acting on ticked rows: refuse with none ticked, confirm, then carry the ids.
  // Its other buttons (按当前列表预约) confirm with the list's count.
  function onTickedSubmit(event) {
    var form = event.target;
    var submitter = event.submitter;
    var needsRows = form.classList.contains("ticked-form") ||
      (submitter && submitter.getAttribute("data-ticked") !== null);
    if (!needsRows) {
      var listed = submitter && submitter.getAttribute("data-rows");
      var listQuestion = listed === null || listed === undefined ? null : question(form, submitter, parseInt(listed, 10));
      if (listQuestion && !window.confirm(listQuestion)) {
        event.preventDefault();
      }
      return;
    }
    var ids = window.TickedRows.ids();
    if (ids.length === 0) {
      event.preventDefault();
      window.alert("请先勾选人员");
      return;
    }
    var ask = question(form, submitter, ids.length);
    if (ask && !window.confirm(ask)) {
      event.preventDefault();
      return;
    }
    window.TickedRows.carry(form, ids);
  }

  document.querySelectorAll("form.ticked-form, form.ticked-capable").forEach(function (form) {
    form.addEventListener("submit", onTickedSubmit);
  });

  // Confirmation of plain forms (cancel a window, a day; delete a window).
  document.querySelectorAll("form.confirm-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
      }
    });
  });

  // The tree: a department's enterprises are fetched the first time it is opened.
  function loadChildren(details) {
    var placeholder = details.querySelector(":scope > .tree-lazy");
    if (!placeholder || details.getAttribute("data-loaded")) {
      return;
    }
    details.setAttribute("data-loaded", "1");
    placeholder.textContent = "加载中…";
    fetch(details.getAttribute("data-lazy"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.className = "tree-loaded";
        holder.innerHTML = html;
        placeholder.replaceWith(holder);
      })
      .catch(function () {
        details.removeAttribute("data-loaded");
        placeholder.textContent = "加载失败，请重试";
      });
  }

  // "toggle" does not bubble: listen in the capture phase, so fetched nodes work too.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.tagName === "DETAILS" && details.open && details.hasAttribute("data-lazy")) {
      loadChildren(details);
    }
  }, true);
  document.querySelectorAll("details[data-lazy][open]").forEach(loadChildren);
})();

// Busy state: once a posting form really goes (not refused or cancelled above), its button says
// 处理中… and cannot send it twice. Disabled a moment later, so the button's own name=value
// (e.g. scope=all of 按当前列表预约) still travels with the form.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") {
      return;
    }
    var button = event.submitter || form.querySelector("button[type=submit]");
    if (!button || button.disabled) {
      return;
    }
    window.setTimeout(function () {
      button.disabled = true;
      button.textContent = "处理中…";
    }, 0);
  });
})();

// On a phone the tree is folded behind 按…筛选 (center.css): the button opens and closes it.
(function () {
  "use strict";
  document.querySelectorAll(".center-tree .tree-toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      var shown = button.closest(".center-tree").classList.toggle("tree-shown");
      button.setAttribute("aria-expanded", shown ? "true" : "false");
    });
  });
})();
