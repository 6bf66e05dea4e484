// 出站确认's lot: a keyboard-wedge scanner types the package's 追溯码 and Enter into the focused
// field. That Enter must not submit the form (the signature comes after): the code is looked up,
// its lot selected in the list, and the field says what was recognised. The server checks again.
(function () {
  "use strict";
  var box = document.getElementById("exit-lot");
  if (!box) { return; }
  var field = document.getElementById("trace-code");
  var status = document.getElementById("trace-code-status");
  var select = document.getElementById("lot-id");

  function show(text, ok) {
    status.textContent = text;
    status.className = "form-text " + (ok ? "text-success" : "text-danger");
  }

  function resolve() {
    var code = field.value.replace(/\D/g, "");
    if (!code) { return; }
    var url = box.getAttribute("data-resolve-url") + "?code=" + encodeURIComponent(code);
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        show(data.message, data.ok);
        if (data.ok) {
          select.value = String(data.lot_id);
          field.value = code;
          var product = document.getElementById("vaccine-product");
          if (product && product.tagName === "SELECT") { product.value = String(data.product_id); }
        } else {
          select.value = "";
          field.select();
        }
      })
      .catch(function () { show("无法查询追溯码，请重试或选择批号", false); });
  }

  field.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      resolve();
    }
  });
  field.addEventListener("change", resolve);
  // Choosing from the list replaces a scanned code: the posted lot is the one shown.
  select.addEventListener("change", function () { field.value = ""; status.textContent = ""; });
})();
