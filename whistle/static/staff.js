// Comfort only: warn two minutes before the idle sign-out, and two minutes before the session
// reaches its absolute lifetime (which activity does not extend). Everything works without it.
(function () {
  "use strict";
  var notice = document.getElementById("idle-notice");
  if (!notice) { return; }
  function warnBefore(id, attribute, atLeast) {
    var warning = document.getElementById(id);
    var seconds = parseInt(notice.getAttribute(attribute), 10);
    if (!warning || !(seconds > atLeast)) { return; }
    window.setTimeout(function () { warning.hidden = false; }, Math.max(0, seconds - 120) * 1000);
  }
  warnBefore("idle-warning", "data-idle-seconds", 150);
  warnBefore("ends-warning", "data-ends-seconds", 0);
})();
