/* The call-taker's form: as a plate is typed, list that car's recent stays to pick from. */
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); } }
  ready(function () {
    var plate = document.getElementById("id_plate");
    var session = document.getElementById("id_session");
    if (!plate || !session) { return; }
    var lookupUrl = window.location.pathname.replace(/add\/?$/, "lookup/");
    var timer = null;
    var status = document.createElement("span");
    status.className = "help";
    session.parentNode.appendChild(status);
    function fill() {
      var value = plate.value.trim();
      if (value.length < 7) { return; }
      fetch(lookupUrl + "?plate=" + encodeURIComponent(value), {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var chosen = session.value;
          session.textContent = "";
          var empty = document.createElement("option");
          empty.value = "";
          empty.textContent = "---------";
          session.appendChild(empty);
          (data.sessions || []).forEach(function (row) {
            var option = document.createElement("option");
            option.value = row.id;
            option.textContent = row.text;
            option.selected = String(row.id) === chosen;
            session.appendChild(option);
          });
          status.textContent = " " + (data.error || data.summary || "");
        });
    }
    plate.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(fill, 300); });
    if (plate.value) { fill(); }
  });
}());
