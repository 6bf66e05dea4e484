// 验证接种凭证: read the certificate's QR code (camera or an uploaded picture) and post its text.
// The browser's BarcodeDetector is used where it exists; elsewhere the vendored jsQR decodes
// the pixels. Nothing is judged here: the server checks the signature and the revocation list.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  var tokenField = document.getElementById("token");
  var fileInput = document.getElementById("scan-file");
  var cameraButton = document.getElementById("scan-camera");
  var video = document.getElementById("scan-video");
  var message = document.getElementById("scan-message");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var detector = null;
  var MAX_SIDE = 2000; // a phone photo is scaled down to this before decoding

  if ("BarcodeDetector" in window) {
    try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { detector = null; }
  }

  function submitToken(text) {
    var match = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/.exec(text || "");
    if (!match) {
      message.textContent = "二维码不是接种凭证";
      return;
    }
    tokenField.value = match[0];
    message.textContent = "";
    form.submit();
  }

  function decodePixels(source, width, height) {
    var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR ? window.jsQR(pixels.data, pixels.width, pixels.height) : null;
    return found ? found.data : null;
  }

  function decode(source, width, height) {
    if (detector) {
      return detector.detect(source).then(function (codes) {
        return codes.length ? codes[0].rawValue : decodePixels(source, width, height);
      }, function () { return decodePixels(source, width, height); });
    }
    return Promise.resolve(decodePixels(source, width, height));
  }

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { return; }
    message.textContent = "正在识别二维码…";
    var image = new Image();
    var url = URL.createObjectURL(file);
    image.onload = function () {
      decode(image, image.naturalWidth, image.naturalHeight).then(function (text) {
        URL.revokeObjectURL(url);
        if (text) { submitToken(text); } else { message.textContent = "未识别到二维码，请重新拍摄清晰的凭证图片"; }
      });
    };
    image.onerror = function () { message.textContent = "无法读取该图片"; };
    image.src = url;
  });

  function scanFrames(stream) {
    function stop() { stream.getTracks().forEach(function (track) { track.stop(); }); }
    function frame() {
      if (video.readyState < 2) { window.requestAnimationFrame(frame); return; }
      decode(video, video.videoWidth, video.videoHeight).then(function (text) {
        if (text) { stop(); submitToken(text); } else { window.requestAnimationFrame(frame); }
      });
    }
    window.requestAnimationFrame(frame);
  }

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    cameraButton.classList.remove("d-none");
    cameraButton.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
        video.srcObject = stream;
        video.classList.remove("d-none");
        cameraButton.classList.add("d-none");
        message.textContent = "请将凭证二维码对准摄像头";
        video.play();
        scanFrames(stream);
      }, function () {
        message.textContent = "无法打开摄像头，请改用上传凭证图片";
      });
    });
  }
})();
