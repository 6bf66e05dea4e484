// A signature pad on a <canvas>, driven by pointer events: mouse, pen and finger alike.
// The canvas has `touch-action: none` (station.css) so a finger draws instead of scrolling.
(function () {
  "use strict";

  function SignaturePad(canvas, options) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.lineWidth = (options && options.lineWidth) || 3;
    this.strokes = 0;
    this.drawing = false;
    this.last = null;
    this.onChange = (options && options.onChange) || function () {};
    this._bind();
  }

  SignaturePad.prototype._point = function (event) {
    var box = this.canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * (this.canvas.width / box.width),
      y: (event.clientY - box.top) * (this.canvas.height / box.height)
    };
  };

  SignaturePad.prototype._bind = function () {
    var pad = this;
    var ctx = this.context;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    this.canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      pad.canvas.setPointerCapture(event.pointerId);
      pad.drawing = true;
      pad.last = pad._point(event);
      ctx.beginPath();
      ctx.fillStyle = "#111";
      ctx.arc(pad.last.x, pad.last.y, pad.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
    });
    this.canvas.addEventListener("pointermove", function (event) {
      if (!pad.drawing) { return; }
      event.preventDefault();
      var point = pad._point(event);
      ctx.lineWidth = pad.lineWidth;
      ctx.beginPath();
      ctx.moveTo(pad.last.x, pad.last.y);
      ctx.lineTo(point.x, point.y);
      ctx.stroke();
      pad.last = point;
    });
    function end(event) {
      if (!pad.drawing) { return; }
      pad.drawing = false;
      pad.strokes += 1;
      if (pad.canvas.hasPointerCapture(event.pointerId)) { pad.canvas.releasePointerCapture(event.pointerId); }
      pad.onChange(pad);
    }
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
  };

  SignaturePad.prototype.isEmpty = function () { return this.strokes === 0; };

  SignaturePad.prototype.clear = function () {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
    this.onChange(this);
  };

  SignaturePad.prototype.toDataURL = function () { return this.canvas.toDataURL("image/png"); };

  window.SignaturePad = SignaturePad;
})();
