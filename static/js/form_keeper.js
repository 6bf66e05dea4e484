// What the user typed into a console form survives the session ending under it. Each console
// form that posts leaves its typed fields in this tab's sessionStorage (never passwords, hidden
// fields or the CSRF token). The login page that answers a post refused for an ended session
// (public_forms/expired_session.py: login_again) marks them kept; after the login, back on the
// same page, the same form is filled in again and they are forgotten. Nothing is sent: the user
// checks the form and presses its button again. Any other page forgets them.
(function () {
  "use strict";
  var KEY = "kept-form";
  var KEPT_FOR_MS = 30 * 60 * 1000;
  var store;
  try { store = window.sessionStorage; } catch (error) { return; }
  if (!store) { return; }

  function here() { return location.pathname + location.search; }

  function postForms() {
    return Array.prototype.filter.call(document.forms, function (form) {
      return (form.getAttribute("method") || "").toLowerCase() === "post" && !form.hasAttribute("data-keep-off");
    });
  }

  function typedFields(form) {
    var values = [], ticked = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      var type = (field.type || "").toLowerCase();
      if (!field.name || field.disabled || field.name === "csrf_token" ||
          ["hidden", "password", "file", "submit", "button", "reset", "image"].indexOf(type) >= 0) { return; }
      if (type === "checkbox" || type === "radio" || type === "select-multiple") {
        ticked[field.name] = ticked[field.name] || [];
        if (type === "select-multiple") {
          Array.prototype.forEach.call(field.selectedOptions, function (o) { ticked[field.name].push(o.value); });
        } else if (field.checked) {
          ticked[field.name].push(field.value);
        }
      } else {
        values.push([field.name, field.value]);
      }
    });
    return { values: values, ticked: ticked };
  }

  function read() {
    try { return JSON.parse(store.getItem(KEY) || "null"); } catch (error) { return null; }
  }

  function fillIn(form, fields) {
    var seen = {};
    fields.values.forEach(function (pair) {
      var same = form.querySelectorAll("[name='" + CSS.escape(pair[0]) + "']");
      var index = seen[pair[0]] = (seen[pair[0]] || 0);
      seen[pair[0]] += 1;
      var field = Array.prototype.filter.call(same, function (f) { return f.type !== "hidden"; })[index];
      if (field) { field.value = pair[1]; field.dispatchEvent(new Event("change", { bubbles: true })); }
    });
    Object.keys(fields.ticked).forEach(function (name) {
      var chosen = fields.ticked[name];
      form.querySelectorAll("[name='" + CSS.escape(name) + "']").forEach(function (field) {
        if (field.type === "select-multiple") {
          Array.prototype.forEach.call(field.options, function (o) { o.selected = chosen.indexOf(o.value) >= 0; });
        } else if (field.type === "checkbox" || field.type === "radio") {
          field.checked = chosen.indexOf(field.value) >= 0;
        }
      });
    });
    var note = document.createElement("div");
    note.className = "alert alert-info kept-form-note";
    note.setAttribute("role", "status");
    note.textContent = "已恢复登录过期前填写的内容，请核对后再次提交";
    form.parentNode.insertBefore(note, form);
  }

  var kept = read();
  if (document.querySelector("[data-session-expired]")) {
    // The login page after a refused post: keep what was typed until the user is back.
    if (kept && !kept.refused) { kept.refused = true; store.setItem(KEY, JSON.stringify(kept)); }
    return;
  }
  if (document.querySelector("[data-login-page]")) { return; }  // a mistyped password: still kept
  if (kept && kept.refused && kept.page === here() && Date.now() - kept.at < KEPT_FOR_MS) {
    var form = postForms()[kept.form];
    if (form) { fillIn(form, kept.fields); }
  }
  store.removeItem(KEY);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var index = postForms().indexOf(form);
    if (index < 0) { return; }
    store.setItem(KEY, JSON.stringify({ page: here(), form: index, at: Date.now(), fields: typedFields(form) }));
  }, true);
})();
