// Comfort only: warn two minutes before the idle sign-out. Everything works without it.
(function () {
  "use strict";
  var notice = document.getElementById("idle-notice");
  var warning = document.getElementById("idle-warning");
  if (!notice || !warning) { return; }
  var seconds = parseInt(notice.getAttribute("data-idle-seconds"), 10);
  if (!(seconds > 150)) { return; }
  window.setTimeout(function () { warning.hidden = false; }, (seconds - 120) * 1000);
})();
