/* 我的: bound plates, current stays (reverse car finding), arrears, past stays, bookings, payment
   agreements (无感支付: sign and end), complaints and orders (receipts), through the citizen API (SPEC §8) with the page's session. Nothing is built from HTML strings: every value
   is set as text, so a lot name can never become markup. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("me-text").textContent);
  var API = "/api/v1/me/";

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }
  function yuan(fen) { return "¥" + (fen / 100).toFixed(2); }
  function when(iso) {
    if (!iso) return "—";
    var d = new Date(Date.parse(iso) + 8 * 3600000);  // the city's wall clock (UTC+8, no DST), whatever the phone's zone
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
  }
  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function api(path, options) {
    options = options || {};
    var headers = {"Accept": "application/json"};
    if (options.body) headers["Content-Type"] = "application/json";
    if (options.method && options.method !== "GET") headers["X-CSRFToken"] = csrf();
    return fetch(API + path, {method: options.method || "GET", credentials: "same-origin", headers: headers,
                              body: options.body ? JSON.stringify(options.body) : undefined})
      .then(function (response) {
        if (response.status === 204) return null;
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) throw (body && body.error) || {message: T.failed};
          return body;
        });
      });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function link(href, text, className) {
    var a = el("a", className || "btn btn--link", text);
    a.href = href;
    return a;
  }
  function empty(list, text) {
    list.replaceChildren(el("li", "muted", text));
  }
  var status = document.getElementById("status");
  function say(text) { status.textContent = text; }

  function renderPlates(rows) {
    var list = document.getElementById("plates");
    if (!rows.length) return empty(list, T.noPlates);
    list.replaceChildren.apply(list, rows.map(function (row) {
      var item = el("li", "item item--plate");
      item.appendChild(el("span", "plate", row.plate));
      var button = el("button", "btn btn--quiet", T.unbind);
      button.type = "button";
      button.setAttribute("aria-label", T.unbind + " " + row.plate);
      button.addEventListener("click", function () {
        if (!window.confirm(fmt(T.unbindConfirm, {plate: row.plate}))) return;
        api("plates/" + encodeURIComponent(row.plate), {method: "DELETE"})
          .then(function () { say(fmt(T.unbound, {plate: row.plate})); load(); })
          .catch(function (error) { say(error.message); });
      });
      item.appendChild(button);
      return item;
    }));
  }

  function stayItem(stay) {
    var item = el("li", "item");
    var head = el("div", "item-head");
    head.appendChild(el("span", "plate", stay.plate));
    head.appendChild(el("span", "lot", stay.lot_name));
    item.appendChild(head);
    var where = [];
    if (stay.berth) where.push(fmt(T.berth, {berth: stay.berth}));
    if (stay.floor) where.push(stay.floor);
    if (where.length) item.appendChild(el("div", "where", where.join(" · ")));
    var times = fmt(T.entry, {at: when(stay.entry_at)});
    if (!stay.current && stay.exit_at) times += "  " + fmt(T.exit, {at: when(stay.exit_at)});
    item.appendChild(el("div", "muted", times));
    var fee = stay.amount_fen === null ? T.feeUnknown
      : fmt(stay.current ? T.feeSoFar : T.fee, {fee: yuan(stay.current ? stay.due_fen : stay.amount_fen)});
    item.appendChild(el("div", "fee", fee));
    if (stay.current) item.appendChild(link(stay.navigate_url, T.navigate));
    return item;
  }

  function renderStays(rows) {
    var current = rows.filter(function (s) { return s.current; });
    var past = rows.filter(function (s) { return !s.current; });
    var currentList = document.getElementById("current");
    var pastList = document.getElementById("past");
    if (current.length) currentList.replaceChildren.apply(currentList, current.map(stayItem));
    else empty(currentList, T.noCurrent);
    if (past.length) pastList.replaceChildren.apply(pastList, past.map(stayItem));
    else empty(pastList, T.noPast);
  }

  // A list of cards: ``none`` when there are no rows, else one item a row; each item starts with a
  // head of [class, text] parts (an empty text is left out).
  function fill(id, rows, none, build) {
    var list = document.getElementById(id);
    if (!rows.length) return empty(list, none);
    list.replaceChildren.apply(list, rows.map(build));
  }
  function headed(parts) {
    var item = el("li", "item");
    var head = el("div", "item-head");
    parts.forEach(function (part) { if (part[1]) head.appendChild(el("span", part[0], part[1])); });
    item.appendChild(head);
    return item;
  }

  function renderArrears(rows) {
    fill("arrears", rows, T.noArrears, function (debt) {
      var item = headed([["plate", debt.plate], ["lot", debt.lot_name]]);
      item.appendChild(el("div", "muted", fmt(T.exit, {at: when(debt.exit_at || debt.created_at)})));
      item.appendChild(el("div", "fee", fmt(T.owed, {fee: yuan(debt.due_fen)})));
      item.appendChild(link(debt.pay_url, T.pay));
      return item;
    });
  }

  function renderBookings(rows) {
    fill("bookings", rows, T.noBookings, function (booking) {
      var item = headed([["plate", booking.plate], ["lot", booking.hospital],
                         ["state", T.bookingStates[booking.state] || booking.state]]);
      item.appendChild(el("div", "where", fmt(T.bookingCode, {code: booking.code})));
      item.appendChild(el("div", "muted", fmt(T.arriveWindow,
        {from: when(booking.arrive_from), until: when(booking.arrive_until)})));
      return item;
    });
  }

  function renderOrders(rows) {
    fill("orders", rows, T.noOrders, function (order) {
      var item = headed([["plate", order.plate], ["lot", order.lot_name],
                         ["state", T.orderStates[order.state] || order.state]]);
      item.id = "order-" + order.order_no;
      item.appendChild(el("div", "fee", yuan(order.amount_fen)));
      item.appendChild(el("div", "muted", order.paid_at ? fmt(T.paidAt, {at: when(order.paid_at)})
        : when(order.created_at)));
      item.appendChild(el("div", "muted order-no", fmt(T.orderNo, {no: order.order_no})));
      return item;
    });
  }

  function option(value, text) {
    var node = el("option", "", text);
    node.value = value;
    return node;
  }

  var sign = document.getElementById("sign");
  var signRefRow = document.getElementById("sign-ref-row");
  var signError = document.getElementById("sign-error");
  var channels = [];
  function needsRef() {
    var chosen = channels.filter(function (c) { return c.code === sign.channel.value; })[0];
    return !!(chosen && chosen.needs_ref);
  }

  function renderAgreements(answer, plates) {
    channels = answer.channels;
    fill("agreements", answer.agreements, T.noAgreements, function (agreement) {
      var chosen = channels.filter(function (c) { return c.code === agreement.channel; })[0];
      var item = headed([["plate", agreement.plate], ["lot", chosen ? chosen.name : agreement.channel],
                         ["state", T.agreementStates[agreement.state] || agreement.state]]);
      item.id = "agreement-" + agreement.id;
      item.appendChild(el("div", "muted", fmt(T.signedAt, {at: when(agreement.signed_at)})));
      if (agreement.state !== "terminated") {
        var button = el("button", "btn btn--quiet btn--link", T.endAgreement);
        button.type = "button";
        button.setAttribute("aria-label", T.endAgreement + " " + agreement.plate);
        button.addEventListener("click", function () {
          if (!window.confirm(fmt(T.endConfirm, {plate: agreement.plate}))) return;
          api("agreements/" + agreement.id + "/end", {method: "POST"})
            .then(function () { say(fmt(T.ended, {plate: agreement.plate})); load(); })
            .catch(function (error) { say(error.message || T.failed); });
        });
        item.appendChild(button);
      }
      return item;
    });
    sign.plate.replaceChildren.apply(sign.plate, plates.map(function (row) { return option(row.plate, row.plate); }));
    sign.channel.replaceChildren.apply(sign.channel, channels.map(function (c) { return option(c.code, c.name); }));
    var blocked = !plates.length ? T.bindFirst : (!channels.length ? T.noChannels : "");
    sign.querySelector("button[type=submit]").disabled = !!blocked;
    signError.textContent = blocked;
    signRefRow.hidden = !needsRef();
  }
  sign.channel.addEventListener("change", function () { signRefRow.hidden = !needsRef(); });
  sign.addEventListener("submit", function (event) {
    event.preventDefault();
    signError.textContent = "";
    var body = {plate: sign.plate.value, channel: sign.channel.value};
    if (needsRef()) body.provider_ref = sign.provider_ref.value.trim();
    api("agreements", {method: "POST", body: body})
      .then(function (agreement) {
        sign.provider_ref.value = "";
        say(fmt(T.signed, {plate: agreement.plate}));
        load();
      })
      .catch(function (error) { signError.textContent = error.message || T.failed; });
  });

  function renderComplaints(rows) {
    fill("complaints", rows, T.noComplaints, function (ticket) {
      var item = headed([["lot", ticket.category_name], ["state", ticket.state_name]]);
      item.appendChild(el("div", "where", fmt(T.ticketNo, {no: ticket.ticket_no})));
      item.appendChild(el("div", "muted", fmt(T.resolveBy, {at: when(ticket.resolve_by)})));
      item.appendChild(link(ticket.track_url, T.track, "btn btn--quiet btn--link"));
      return item;
    });
  }

  function load() {
    say(T.loading);
    return Promise.all([api("plates"), api("sessions?page_size=100"), api("arrears?page_size=100"),
                        api("reservations"), api("orders"), api("agreements"), api("complaints")])
      .then(function (answers) {
        renderPlates(answers[0]);
        renderStays(answers[1].results);
        renderArrears(answers[2].results);
        renderBookings(answers[3]);
        renderOrders(answers[4]);
        renderAgreements(answers[5], answers[0]);
        renderComplaints(answers[6]);
        say("");
      })
      .catch(function (error) { say(error.message || T.failed); });
  }

  var form = document.getElementById("bind");
  var proofRow = document.getElementById("proof-row");
  var bindError = document.getElementById("bind-error");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    bindError.textContent = "";
    var plate = form.plate.value.trim();
    var body = {plate: plate};
    if (!proofRow.hidden && form.proof.value.trim()) body.proof = form.proof.value.trim();
    api("plates", {method: "POST", body: body})
      .then(function (row) {
        form.reset();
        proofRow.hidden = true;
        say(fmt(T.bound, {plate: row.plate}));
        load();
      })
      .catch(function (error) {
        if (error.code === "plate_proof_required") proofRow.hidden = false;
        bindError.textContent = error.message || T.failed;
        form.plate.setAttribute("aria-invalid", "true");
      });
  });
  form.plate.addEventListener("input", function () { form.plate.removeAttribute("aria-invalid"); });

  load();
})();
