// 出站确认: the signature goes into the form as a PNG data URL; 其他 asks for the reason in words.
(function () {
  "use strict";
  var form = document.getElementById("vaccinate-form");
  if (form) {
    var canvas = document.getElementById("signature-pad");
    var field = document.getElementById("signature-data");
    var error = document.getElementById("signature-error");
    var pad = new SignaturePad(canvas, { onChange: function () { error.textContent = ""; } });
    document.getElementById("signature-clear").addEventListener("click", function () { pad.clear(); });
    form.addEventListener("submit", function (event) {
      if (pad.isEmpty()) {
        event.preventDefault();
        error.textContent = "请接种人在签名板上签名";
        return;
      }
      field.value = pad.toDataURL();
    });
  }

  var reason = document.getElementById("not-vaccinated-reason");
  var otherGroup = document.getElementById("other-reason-group");
  if (reason && otherGroup) {
    var other = otherGroup.getAttribute("data-other");
    var input = document.getElementById("other-reason");
    var sync = function () {
      var isOther = reason.value === other;
      otherGroup.hidden = !isOther;
      input.required = isOther;
    };
    reason.addEventListener("change", sync);
    sync();
    document.getElementById("not-vaccinated-form").addEventListener("submit", function (event) {
      if (!window.confirm("确认记录该人员未接种？")) { event.preventDefault(); }
    });
  }
})();
