// A one-time link (an invitation, the first-run setup) carries its secret after "#": browsers
// never send that part, so no request line, access log, proxy log or Referer holds it. This
// moves the secret from the address into the page's form and sends the form, so the secret
// reaches the server only in a request body. Without script, the person pastes it instead.
(function () {
  "use strict";
  var form = document.querySelector("form[data-from-fragment]");
  var secret = window.location.hash.slice(1);
  if (!form || !secret) { return; }
  // Out of the address bar and the history entry at once.
  window.history.replaceState(null, "", window.location.pathname);
  var field = form.elements[form.getAttribute("data-from-fragment")];
  if (!field || field.value) { return; }
  field.value = secret;
  form.submit();
})();
