/* 长者版 (elder mode): larger type and higher contrast, a tap away and remembered on this phone.
   Loaded in <head> so the page never flashes in the other size. */
(function () {
  "use strict";
  var KEY = "wxp-elder";
  function stored() { try { return localStorage.getItem(KEY) === "1"; } catch (e) { return false; } }
  if (stored()) document.documentElement.classList.add("elder");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("elder");
    if (!button) return;
    var labels = {on: button.dataset.on || "标准版", off: button.textContent.trim()};
    function show() {
      var on = document.documentElement.classList.contains("elder");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? labels.on : labels.off;
    }
    button.addEventListener("click", function () {
      var on = document.documentElement.classList.toggle("elder");
      try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* private mode: not remembered */ }
      show();
    });
    show();
  });
})();
