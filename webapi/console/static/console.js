// Progressive enhancement only: every page works without this file.
"use strict";
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    e.preventDefault();
  }
});
document.addEventListener("change", function (e) {
  if (e.target.hasAttribute("data-autosubmit") && e.target.form) {
    e.target.form.submit();
  }
});
document.addEventListener("focusin", function (e) {
  if (e.target.hasAttribute("data-select")) {
    e.target.select();
  }
});
