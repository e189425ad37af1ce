/* The hotline's citizen pages: file a complaint, follow it up, rate it. Plain JS, no library. */
(function () {
  "use strict";
  var STATES = JSON.parse(document.getElementById("hotline-states").textContent);
  var TEXT = JSON.parse(document.getElementById("hotline-texts").textContent);

  function when(iso) {
    if (!iso) { return "—"; }
    var d = new Date(Date.parse(iso) + 8 * 3600000);  // the city's wall clock (UTC+8, no DST), whatever the phone's zone
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }

  function send(method, url, body) {
    var options = {method: method, headers: {"Accept": "application/json"}};
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {ok: response.ok, status: response.status, data: data};
      });
    });
  }

  function showError(element, result) {
    var error = (result.data && result.data.error) || {};
    element.textContent = error.message || TEXT.failed;
    element.hidden = false;
  }

  var form = document.getElementById("complaint-form");
  if (form) {
    var locate = document.getElementById("locate");
    locate.addEventListener("click", function () {
      var located = document.getElementById("located");
      if (!navigator.geolocation) { located.textContent = TEXT.no_geolocation; return; }
      located.textContent = TEXT.locating;
      navigator.geolocation.getCurrentPosition(function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(6);
        form.elements.lon.value = position.coords.longitude.toFixed(6);
        located.textContent = TEXT.located;
      }, function () { located.textContent = TEXT.not_located; }, {timeout: 10000});
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = document.getElementById("form-error");
      error.hidden = true;
      var body = {
        category: form.elements.category.value,
        description: form.elements.description.value,
        phone: form.elements.phone.value
      };
      if (form.elements.plate.value.trim()) { body.plate = form.elements.plate.value.trim(); }
      if (form.elements.lot.value) { body.lot = form.elements.lot.value; }
      if (form.elements.lat.value && form.elements.lon.value) {
        body.lat = parseFloat(form.elements.lat.value);
        body.lon = parseFloat(form.elements.lon.value);
      }
      var submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      send("POST", form.dataset.api, body).then(function (result) {
        submit.disabled = false;
        if (!result.ok) { showError(error, result); return; }
        form.hidden = true;
        document.getElementById("created-no").textContent = result.data.ticket_no;
        document.getElementById("created-respond").textContent = when(result.data.respond_by);
        document.getElementById("created-resolve").textContent = when(result.data.resolve_by);
        document.getElementById("created-track").href = form.dataset.track + "?no=" + encodeURIComponent(result.data.ticket_no);
        document.getElementById("created").hidden = false;
      }, function () { submit.disabled = false; showError(error, {}); });
    });
  }

  var track = document.getElementById("track-form");
  if (track) {
    var current = null;
    var render = function (ticket) {
      current = ticket;
      document.getElementById("t-no").textContent = ticket.ticket_no;
      document.getElementById("t-state").textContent = STATES[ticket.state] || ticket.state;
      document.getElementById("t-unit").textContent = ticket.unit || TEXT.unassigned;
      document.getElementById("t-created").textContent = when(ticket.created_at);
      document.getElementById("t-resolve").textContent = when(ticket.resolve_by);
      var list = document.getElementById("t-history");
      list.textContent = "";
      ticket.history.forEach(function (entry) {
        var item = document.createElement("li");
        item.textContent = when(entry.at) + " " + (STATES[entry.state] || entry.state) + (entry.note ? "：" + entry.note : "");
        list.appendChild(item);
      });
      var rateable = ticket.state === "resolved" || ticket.state === "closed";
      document.getElementById("rating-form").hidden = !rateable;
      document.getElementById("ticket").hidden = false;
    };
    var lookup = function () {
      var error = document.getElementById("track-error");
      error.hidden = true;
      var no = track.elements.ticket_no.value.trim().toUpperCase();
      var url = track.dataset.api + encodeURIComponent(no) + "?phone_last4=" + encodeURIComponent(track.elements.phone_last4.value.trim());
      send("GET", url).then(function (result) {
        if (!result.ok) { document.getElementById("ticket").hidden = true; showError(error, result); return; }
        render(result.data);
      }, function () { showError(error, {}); });
    };
    track.addEventListener("submit", function (event) { event.preventDefault(); lookup(); });
    document.getElementById("rating-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var rating = event.target;
      var score = rating.querySelector("input[name=score]:checked");
      var error = document.getElementById("track-error");
      if (!score || !current) { error.textContent = TEXT.pick_score; error.hidden = false; return; }
      send("POST", track.dataset.api + encodeURIComponent(current.ticket_no) + "/rating", {
        phone_last4: track.elements.phone_last4.value.trim(), score: parseInt(score.value, 10),
        comment: rating.elements.comment.value
      }).then(function (result) {
        if (!result.ok) { showError(error, result); return; }
        rating.hidden = true;
        document.getElementById("rated").hidden = false;
        lookup();
      });
    });
  }
}());
