/* The lot's pay page (/pay/<lot code>/): enter or pick a plate, see what is due, pay, see the receipt.
   Plain script, no framework, no CDN: it runs in WeChat's browser and any phone browser. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("pay-config").textContent);
  var T = config.text;
  var RECENT_KEY = "wxp-pay-plates";
  var $ = function (id) { return document.getElementById(id); };
  var state = { plate: "", sessions: [], order: null };

  function yuan(fen) { return (fen / 100).toFixed(2) + " " + T.yuan; }
  function show(el, on) { el.hidden = !on; }
  function time(iso) {
    if (!iso) return "";
    var d = new Date(Date.parse(iso) + 8 * 3600000);  // the city's wall clock (UTC+8, no DST), whatever the phone's zone
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }
  function duration(fromIso, toIso) {
    var minutes = Math.max(0, Math.floor(((toIso ? new Date(toIso) : new Date()) - new Date(fromIso)) / 60000));
    var h = Math.floor(minutes / 60), m = minutes % 60;
    return (h ? h + " " + T.hours + " " : "") + m + " " + T.minutes;
  }
  function normalise(raw) {
    return (raw || "").replace(/[\s·•・･\-－]/g, "").replace(/[Ａ-Ｚａ-ｚ０-９]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).toUpperCase();
  }
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    if (method !== "GET" && cookie("csrftoken")) headers["X-CSRFToken"] = cookie("csrftoken");
    return fetch(url, { method: method, headers: headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { status: response.status, data: data };
        });
      });
  }
  function errorText(result, fallback) {
    return (result.data && result.data.error && result.data.error.message) || fallback;
  }

  // -- plates ------------------------------------------------------------------------------------
  function recentPlates() {
    var stored = [];
    try { stored = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (e) { stored = []; }
    var all = (config.plates || []).concat(stored);
    return all.filter(function (p, i) { return p && all.indexOf(p) === i; }).slice(0, 5);
  }
  function remember(plate) {
    try {
      var list = [plate].concat(recentPlates().filter(function (p) { return p !== plate; })).slice(0, 3);
      localStorage.setItem(RECENT_KEY, JSON.stringify(list));
    } catch (e) { /* private mode: nothing remembered */ }
  }
  function renderRecent() {
    var box = $("recent"), plates = recentPlates();
    box.innerHTML = "";
    plates.forEach(function (plate) {
      var chip = document.createElement("button");
      chip.type = "button"; chip.className = "chip"; chip.textContent = plate;
      chip.addEventListener("click", function () { $("plate").value = plate; query(); });
      box.appendChild(chip);
    });
    show(box, plates.length > 0);
  }

  // -- what is due -------------------------------------------------------------------------------
  function query() {
    var plate = normalise($("plate").value);
    show($("plate-error"), false); show($("due"), false); show($("native"), false);
    if (!plate) { $("plate-error").textContent = T.enterPlate; show($("plate-error"), true); return; }
    state.plate = plate;
    $("status").textContent = T.querying;
    api("GET", config.dueUrl + "?lot=" + encodeURIComponent(config.lot) + "&plate=" + encodeURIComponent(plate))
      .then(function (result) {
        $("status").textContent = "";
        if (result.status === 200) { renderDue(result.data); return; }
        $("plate-error").textContent = result.status === 404 ? T.nothingDue
          : result.status === 400 ? errorText(result, T.invalidPlate) : T.queryFailed;
        show($("plate-error"), true);
      }, function () { $("status").textContent = T.queryFailed; });
  }
  function kv(label, value) {
    return '<div class="kv"><span>' + label + "</span><span>" + value + "</span></div>";
  }
  function renderDue(due) {
    state.sessions = due.sessions;
    $("sessions").innerHTML = due.sessions.map(function (s) {
      return "<li>" + kv(T.entryAt, time(s.entry_at)) +
        (s.exit_at ? kv(T.exitAt, time(s.exit_at)) : kv(T.duration, duration(s.entry_at) + " · " + T.inLot)) +
        kv(T.amount, yuan(s.amount_fen)) + (s.paid_fen ? kv(T.paid, yuan(s.paid_fen)) : "") +
        kv(T.due, "<b>" + yuan(s.due_fen) + "</b>") + "</li>";
    }).join("");
    $("due-total").textContent = yuan(due.due_fen);
    var box = $("channels");
    box.querySelectorAll(".channel").forEach(function (el) { el.remove(); });
    config.channels.forEach(function (channel, index) {
      var label = document.createElement("label");
      label.className = "channel";
      label.innerHTML = '<input type="radio" name="channel" value="' + channel.code + '"' + (index === 0 ? " checked" : "") + "> ";
      label.appendChild(document.createTextNode(channel.name));
      box.appendChild(label);
    });
    $("btn-pay").disabled = config.channels.length === 0;
    if (!config.channels.length) { $("pay-error").textContent = T.noChannel; show($("pay-error"), true); }
    show($("due"), true);
  }

  // -- paying ------------------------------------------------------------------------------------
  function pay() {
    var checked = document.querySelector("input[name=channel]:checked");
    if (!checked) return;
    show($("pay-error"), false);
    $("btn-pay").disabled = true;
    $("status").textContent = T.paying;
    var ids = state.sessions.map(function (s) { return s.session_id; });
    api("POST", config.ordersUrl, { session_ids: ids, channel: checked.value }).then(function (result) {
      $("status").textContent = "";
      $("btn-pay").disabled = false;
      if (result.status !== 200 && result.status !== 201) {
        $("pay-error").textContent = errorText(result, T.orderFailed); show($("pay-error"), true); return;
      }
      remember(state.plate);
      startPayment(result.data);
    }, function () { $("btn-pay").disabled = false; $("status").textContent = T.orderFailed; });
  }
  function startPayment(order) {
    var pay = order.pay || {};
    if (pay.pay_url) { window.location.href = pay.pay_url; return; }
    if (pay.trade_type === "JSAPI" && window.WeixinJSBridge) {
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", pay.jsapi, function () { poll(order.order_no, 40); });
      return;
    }
    if (pay.code_url) {
      $("native-hint").textContent = T.scanNative;
      $("native-qr").src = "/pay/orders/" + encodeURIComponent(order.order_no) + "/qr.svg";
      show($("native"), true);
      poll(order.order_no, 200);
    }
  }

  // -- the receipt -------------------------------------------------------------------------------
  function poll(orderNo, tries) {
    $("status").textContent = T.waiting;
    api("GET", config.ordersUrl + "/" + encodeURIComponent(orderNo)).then(function (result) {
      var order = result.data;
      if (result.status === 200 && order.state !== "created") { renderReceipt(order); return; }
      if (result.status === 200 && tries > 0) { setTimeout(function () { poll(orderNo, tries - 1); }, 1500); return; }
      $("status").textContent = result.status === 200 ? "" : errorText(result, T.queryFailed);
    }, function () { if (tries > 0) setTimeout(function () { poll(orderNo, tries - 1); }, 3000); });
  }
  function renderReceipt(order) {
    $("status").textContent = "";
    show($("due"), false); show($("native"), false);
    var paid = order.state !== "closed";
    $("receipt-title").textContent = paid ? T.paidTitle : T.closedTitle;
    $("receipt-body").innerHTML = "<dt>" + T.orderNo + '</dt><dd class="mono">' + order.order_no + "</dd>" +
      "<dt>" + T.amount + "</dt><dd>" + yuan(order.amount_fen) + "</dd>" +
      (order.paid_at ? "<dt>" + T.paidAt + "</dt><dd>" + time(order.paid_at) + "</dd>" : "");
    $("receipt-hint").textContent = paid ? T.graceHint.replace("{minutes}", config.graceMinutes) : "";
    show($("receipt-hint"), paid);
    $("btn-again").href = window.location.pathname + (config.berth ? "?berth=" + encodeURIComponent(config.berth) : "");
    $("receipt").dataset.state = order.state;
    show($("receipt"), true);
  }

  $("plate-form").addEventListener("submit", function (event) { event.preventDefault(); query(); });
  $("btn-pay").addEventListener("click", pay);
  renderRecent();
  var returning = new URLSearchParams(window.location.search).get("order");
  if (returning) { poll(returning, 40); }
  else if (recentPlates().length === 1) { $("plate").value = recentPlates()[0]; }
})();
