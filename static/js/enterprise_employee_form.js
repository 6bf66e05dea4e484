// Employee form: fill gender and age from a complete ID number (the server checks them again);
// after a submission, Back loads the form afresh instead of showing what the server said before.
(function () {
  var form = document.getElementById("employee-form");
  if (!form) { return; }
  // A refused submission's page answers a POST; replacing its history entry makes it a plain
  // GET of the form, which Back after a later success loads anew (the page is not stored).
  if (window.history.replaceState) { window.history.replaceState(null, "", window.location.href); }
  // The back-forward cache would bring back old messages or the disabled 提交中… button.
  window.addEventListener("pageshow", function (event) {
    var answered = form.querySelector(".is-invalid") || form.getAttribute("data-sent") === "1";
    if (event.persisted && answered) { window.location.reload(); }
  });
  var idInput = form.querySelector("[name=id_number]");
  var ageInput = form.querySelector("[name=age]");
  var weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var checks = "10X98765432";
  var fullWidth = "０１２３４５６７８９Ｘｘ";

  function normalise(raw) {
    var out = "";
    for (var i = 0; i < raw.length; i++) {
      var c = raw.charAt(i);
      var at = fullWidth.indexOf(c);
      if (at >= 0) { c = at < 10 ? String(at) : "X"; }
      if (!/\s/.test(c)) { out += c; }
    }
    return out.toUpperCase();
  }

  function parse(number) {
    if (!/^[1-9]\d{16}[\dX]$/.test(number)) { return null; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += Number(number.charAt(i)) * weights[i]; }
    if (checks.charAt(sum % 11) !== number.charAt(17)) { return null; }
    var year = Number(number.substr(6, 4)), month = Number(number.substr(10, 2)), day = Number(number.substr(12, 2));
    var born = new Date(year, month - 1, day);
    if (born.getFullYear() !== year || born.getMonth() !== month - 1 || born.getDate() !== day) { return null; }
    var today = new Date();
    var age = today.getFullYear() - year;
    if (today.getMonth() + 1 < month || (today.getMonth() + 1 === month && today.getDate() < day)) { age -= 1; }
    return { gender: Number(number.charAt(16)) % 2 ? "M" : "F", age: age };
  }

  function fill() {
    var number = normalise(idInput.value);
    if (number !== idInput.value && number.length === 18) { idInput.value = number; }
    var found = parse(number);
    if (!found) { return; }
    var radio = form.querySelector("[name=gender][value=" + found.gender + "]");
    if (radio) { radio.checked = true; }
    if (ageInput) { ageInput.value = String(found.age); }
  }

  idInput.addEventListener("change", fill);
  idInput.addEventListener("input", function () { if (normalise(idInput.value).length === 18) { fill(); } });
  form.addEventListener("submit", function () {
    form.setAttribute("data-sent", "1");
    var button = form.querySelector("button[type=submit]");
    if (button) { window.setTimeout(function () { button.disabled = true; button.textContent = "提交中…"; }, 0); }
  });
})();
