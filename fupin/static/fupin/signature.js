/* Signatures drawn on the screen (templates/exit/acceptance.html, the 双认定 acceptance
   form): each [data-signature-pad] holds a canvas, a hidden input and a "clear" button.
   A finger, pen or mouse draws strokes on the canvas (pointer events, so touch screens
   work); when the form is sent, each canvas with a stroke puts its PNG (a data URL) in
   its hidden input, and one without leaves the input empty — the server then wants a scan
   instead. A drawing sent back with a form that had errors is painted again. The canvas
   background stays transparent: the server refuses a drawing without a single opaque
   pixel. No inline JS (CSP), no library. */
(function () {
  "use strict";

  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var input = pad.querySelector("input[data-signature-input]");
    var clear = pad.querySelector("[data-signature-clear]");
    if (!canvas || !input) return;
    var context = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    var last = null;

    context.lineWidth = 3;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";

    // A form sent back with errors keeps the drawing in its hidden input: paint it again,
    // so the signer need not sign twice.
    if (input.value.indexOf("data:image/png;base64,") === 0) {
      var previous = new Image();
      previous.onload = function () {
        context.drawImage(previous, 0, 0);
      };
      previous.src = input.value;
      drawn = true;
    }

    function point(event) {
      // The canvas is drawn at its own size and shown at the page's: scale the pointer.
      var box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * canvas.width) / box.width,
        y: ((event.clientY - box.top) * canvas.height) / box.height,
      };
    }

    canvas.style.touchAction = "none"; // the finger draws instead of scrolling the page
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      last = point(event);
      canvas.setPointerCapture(event.pointerId);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fillStyle = context.strokeStyle;
      context.fill();
      drawn = true;
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      var next = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      last = next;
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () {
        drawing = false;
      });
    });
    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        input.value = "";
      });
    }
    return function save() {
      input.value = drawn ? canvas.toDataURL("image/png") : "";
    };
  }

  function start(form) {
    var savers = [];
    form.querySelectorAll("[data-signature-pad]").forEach(function (pad) {
      var save = setUp(pad);
      if (save) savers.push(save);
    });
    form.addEventListener("submit", function () {
      savers.forEach(function (save) {
        save();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-signature-form]").forEach(start);
  });
})();
