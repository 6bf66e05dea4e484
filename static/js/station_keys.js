// 接种站端 by keyboard: F2 opens 出站确认 of the next person waiting, from the desk, 候诊队列 and 出站确认.
// F2 is a key neither a card reader's keyboard wedge nor a scanner ever types.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "F2" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    // 下一位 is a form's button (a POST: it claims the person it opens); submitted as if clicked.
    var next = document.querySelector("[data-next-key='F2']");
    if (next) {
      next.click();
    } else {
      document.dispatchEvent(new CustomEvent("station:queue-empty"));
    }
  });
})();
