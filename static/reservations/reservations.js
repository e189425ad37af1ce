/* The booking pages: SPEC §8.3's API, nothing else; no library, no CDN. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("page-config").textContent);
  var T = config.text;

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else if (key === "cls") { node.className = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function csrf() {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function api(method, url, body) {
    var options = {method: method, credentials: "same-origin", headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") { options.headers["X-CSRFToken"] = csrf(); }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw (data && data.error) || {message: T.loadFailed}; }
        return data;
      });
    });
  }
  function notice(message, kind) {
    var box = $("notice");
    box.textContent = message;
    box.className = "notice" + (kind ? " notice--" + kind : "");
    box.hidden = !message;
  }
  function time(iso) {
    var d = new Date(Date.parse(iso) + 8 * 3600000);  // the city's wall clock (UTC+8, no DST), whatever the phone's zone
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (d.getUTCMonth() + 1) + "/" + d.getUTCDate() + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }
  function clock(iso) { return time(iso).split(" ")[1]; }
  function day(iso) { return time(iso).split(" ")[0]; }

  function showTab(name) {
    document.querySelectorAll(".tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    });
    ["book", "mine", "sharing"].forEach(function (tab) { $("tab-" + tab).hidden = tab !== name; });
    if (name === "mine") { loadMine(); }
    if (name === "sharing") { loadSharing(); }
  }

  // -- booking --------------------------------------------------------------------------------
  function fillPlates() {
    var select = $("plate");
    config.plates.forEach(function (plate) { select.appendChild(el("option", {value: plate, text: plate})); });
    if (!config.loggedIn) { notice(T.login, "warn"); }
    else if (!config.plates.length) { notice(T.noPlates, "warn"); }
  }

  function slotButton(slot) {
    var full = slot.remaining <= 0;
    var button = el("button", {type: "button", cls: "slot" + (full ? " slot--full" : ""), "data-slot": slot.id}, [
      el("span", {cls: "slot-time", text: clock(slot.starts_at) + "–" + clock(slot.ends_at)}),
      el("span", {cls: "slot-left", text: full ? T.full : T.remaining + " " + slot.remaining}),
    ]);
    if (full || !config.loggedIn || !config.plates.length) { button.disabled = true; }
    button.addEventListener("click", function () { book(slot, button); });
    return button;
  }

  function renderHospitals(sites) {
    var box = $("hospitals");
    box.textContent = "";
    if (!sites.length) { box.appendChild(el("p", {cls: "muted", text: T.noSlots})); return; }
    sites.forEach(function (site) {
      var byDay = {};
      site.slots.forEach(function (slot) {
        var key = day(slot.starts_at) + (slot.berth_kind && slot.berth_kind !== "standard"
          ? " · " + T["berthKind_" + slot.berth_kind] : "");
        (byDay[key] = byDay[key] || []).push(slot);
      });
      var rules = site.rules || {};
      var card = el("article", {cls: "card", "data-hospital": site.id}, [
        el("h2", {text: site.name}),
        rules.waives_fee ? el("p", {cls: "tag", text: T.waives}) : null,
        rules.ev_free_minutes ? el("p", {cls: "tag", text: T.evFree.replace("{minutes}", rules.ev_free_minutes)})
          : null,
        el("p", {cls: "muted small", text: T.noShowRule + "：" + rules.no_show_limit + T.times + "/" +
          rules.no_show_period_days + T.days}),
      ]);
      if (!site.slots.length) { card.appendChild(el("p", {cls: "muted", text: T.noSlots})); }
      Object.keys(byDay).forEach(function (key) {
        card.appendChild(el("h3", {text: key}));
        card.appendChild(el("div", {cls: "slots"}, byDay[key].map(slotButton)));
      });
      box.appendChild(card);
    });
  }

  function loadHospitals() {
    $("hospitals").textContent = T.loading;
    Promise.all([api("GET", config.hospitalsUrl), api("GET", config.hospitalsUrl + "?site_kind=lot")])
      .then(function (both) { renderHospitals(both[0].concat(both[1])); },
            function (error) { notice(error.message, "error"); });
    if (config.loggedIn) {
      api("GET", config.suspensionsUrl).then(function (rows) {
        var box = $("suspensions");
        box.textContent = "";
        rows.forEach(function (row) {
          box.appendChild(el("p", {cls: "notice notice--warn", text: T.suspended + " " + time(row.until) + "：" +
            row.hospital}));
        });
      });
    }
  }

  function showConfirmation(reservation) {
    var box = $("confirmation");
    box.textContent = "";
    box.appendChild(el("h2", {text: T.booked}));
    box.appendChild(el("p", {text: reservation.hospital + " · " + reservation.plate}));
    box.appendChild(el("p", {cls: "code-label", text: T.code}));
    box.appendChild(el("p", {id: "booking-code", cls: "code", text: reservation.code}));
    box.appendChild(el("img", {id: "booking-qr", cls: "qr", src: reservation.qr_url, alt: reservation.code,
                               width: "200", height: "200"}));
    box.appendChild(el("p", {cls: "muted", text: T.showAtGate}));
    box.appendChild(el("p", {text: T.arrive + "：" + time(reservation.arrive_from) + " – " +
      clock(reservation.arrive_until)}));
    box.hidden = false;
  }

  function book(slot, button) {
    button.disabled = true;
    notice("");
    api("POST", config.bookUrl, {slot: slot.id, plate: $("plate").value}).then(function (reservation) {
      showTab("mine");
      showConfirmation(reservation);
      loadHospitals();
    }, function (error) {
      notice(error.message, "error");
      button.disabled = false;
      loadHospitals();
    });
  }

  // -- my bookings ----------------------------------------------------------------------------
  function loadMine() {
    if (!config.loggedIn) { return; }
    api("GET", config.mineUrl).then(function (rows) {
      var box = $("mine");
      box.textContent = "";
      if (!rows.length) { box.appendChild(el("p", {cls: "muted", text: T.noReservations})); }
      rows.forEach(function (row) {
        var card = el("article", {cls: "card reservation", "data-reservation": row.id}, [
          el("h3", {text: row.hospital + " · " + time(row.starts_at)}),
          el("p", {text: row.plate + " · " + T.code + " " + row.code}),
          el("p", {cls: "state state--" + row.state, text: T["state_" + row.state] || row.state}),
        ]);
        if (row.state === "booked") {
          var show = el("button", {type: "button", cls: "link", text: T.code});
          show.addEventListener("click", function () { showConfirmation(row); window.scrollTo(0, 0); });
          var cancel = el("button", {type: "button", cls: "danger", text: T.cancel});
          cancel.addEventListener("click", function () {
            if (!window.confirm(T.confirmCancel)) { return; }
            api("DELETE", config.reservationUrl.replace("{id}", row.id)).then(function () {
              notice(T.cancelled, "ok");
              $("confirmation").hidden = true;
              loadMine();
              loadHospitals();
            }, function (error) { notice(error.message, "error"); });
          });
          card.appendChild(el("div", {cls: "actions"}, [show, cancel]));
        }
        box.appendChild(card);
      });
    }, function (error) { notice(error.message, "error"); });
  }

  // -- sharing --------------------------------------------------------------------------------
  function windowText(start, end) { return start ? start.slice(0, 5) + "–" + end.slice(0, 5) : "—"; }

  function loadSharing() {
    $("address").value = $("address").value || config.address;
    api("GET", config.offersUrl).then(function (offers) {
      var box = $("offers");
      box.textContent = "";
      if (!offers.length) { box.appendChild(el("p", {cls: "muted", text: T.noOffers})); }
      offers.forEach(function (offer) {
        var apply = el("button", {type: "button", cls: "primary", text: T.apply, "data-offer": offer.id});
        apply.disabled = !config.loggedIn || !config.plates.length || offer.remaining <= 0;
        apply.addEventListener("click", function () {
          apply.disabled = true;
          api("POST", config.applyUrl, {offer: offer.id, plate: $("plate").value || config.plates[0],
                                        address: $("address").value}).then(function () {
            notice(T.applied, "ok");
            loadSharing();
          }, function (error) { notice(error.message, "error"); apply.disabled = false; });
        });
        box.appendChild(el("article", {cls: "card"}, [
          el("h3", {text: offer.title}),
          el("p", {cls: "muted", text: offer.lot_name}),
          el("p", {text: T.weekday + " " + windowText(offer.weekday_start, offer.weekday_end) + " · " + T.weekend +
            " " + windowText(offer.weekend_start, offer.weekend_end)}),
          el("p", {text: (offer.monthly_price_fen / 100).toFixed(2) + " " + T.perMonth + " · " + T.remaining + " " +
            offer.remaining}),
          apply,
        ]));
      });
    });
    if (!config.loggedIn) { return; }
    api("GET", config.mySharingUrl).then(function (mine) {
      var box = $("contracts");
      box.textContent = "";
      mine.contracts.forEach(function (contract) {
        box.appendChild(el("article", {cls: "card"}, [
          el("h3", {text: contract.number + " · " + contract.plate}),
          el("p", {text: time(contract.starts_at) + " – " + time(contract.ends_at)}),
        ]));
      });
      mine.applications.filter(function (a) { return a.state === "pending"; }).forEach(function (application) {
        box.appendChild(el("p", {cls: "muted", text: application.plate + " · " + T.applied}));
      });
    });
  }

  document.querySelectorAll(".tab").forEach(function (tab) {
    tab.addEventListener("click", function () { showTab(tab.dataset.tab); });
  });
  fillPlates();
  loadHospitals();
})();
