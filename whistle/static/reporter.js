// Comfort only (DESIGN.md: everything works without JavaScript, e.g. in Tor Browser's
// safest mode): a character counter under long text fields, and a progress bar while a form
// with files is sent. The texts come from the page (data-* attributes), in its language.
(function () {
  "use strict";
  var form = document.querySelector("form[data-comfort]");
  if (!form) { return; }
  var counterText = form.getAttribute("data-counter") || "";
  var sendingText = form.getAttribute("data-sending") || "";

  Array.prototype.forEach.call(form.querySelectorAll("textarea[maxlength]"), function (area) {
    var max = parseInt(area.getAttribute("maxlength"), 10);
    if (!(max > 0)) { return; }
    var counter = document.createElement("p");
    counter.className = "counter hint";
    counter.setAttribute("aria-live", "polite");
    var show = function () {
      counter.textContent = counterText
        .replace("{used}", String(area.value.length))
        .replace("{max}", String(max));
    };
    area.addEventListener("input", show);
    area.parentNode.insertBefore(counter, area.nextSibling);
    show();
  });

  if (!window.XMLHttpRequest || !window.FormData) { return; }
  form.addEventListener("submit", function (event) {
    var chosen = Array.prototype.some.call(
      form.querySelectorAll("input[type=file]"),
      function (input) { return input.files && input.files.length > 0; }
    );
    if (!chosen) { return; }  // nothing to wait for: the normal submission is quick
    event.preventDefault();
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var label = document.createElement("p");
    label.setAttribute("role", "status");
    label.textContent = sendingText.replace("{percent}", "0 %");
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.parentNode.insertBefore(bar, button); }
    else { form.appendChild(bar); }
    bar.parentNode.insertBefore(label, bar);
    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("action") || window.location.href);
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) { return; }
      var percent = Math.round(100 * progress.loaded / progress.total);
      bar.value = percent;
      label.textContent = sendingText.replace("{percent}", percent + " %");
    });
    request.addEventListener("load", function () {
      if (request.responseURL && request.responseURL !== window.location.href) {
        window.location.assign(request.responseURL);  // the page the server sent us on to
        return;
      }
      document.open();  // the same page again, with the server's messages
      document.write(request.responseText);
      document.close();
    });
    request.addEventListener("error", function () { form.submit(); });
    request.send(new FormData(form));
  });
})();
