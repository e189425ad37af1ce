/*
 * 无锡停车 — the live parking map (/map/).
 *
 * Loads every lot from the GeoJSON (SPEC §4), clusters them with Leaflet.markercluster, and keeps
 * the counts live from the /ws/occupancy/ WebSocket: the server sends a snapshot when the socket
 * opens, then at most one message a second with the lots that changed. When the socket drops it
 * reconnects with exponential back-off, reloading the GeoJSON first (lots may have been added).
 *
 * Written for WeChat's built-in browser: ES2015, no optional chaining, no external requests
 * except the base-map tiles, and markers never wait for tiles (closed networks have none).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var T = cfg.text;
  var lots = new Map(); // code → {props, marker, visible}
  var filters = {region: "", free: false, ev: false, accessible: false};
  var selectedCode = null;
  var initialLot = new URLSearchParams(window.location.search).get("lot");

  // ---- helpers ---------------------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function getJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function isOnline(p) { return p.status !== "offline" && p.status !== "closed"; }

  // Green when at least 30% is free, amber below that, red when full or under 10%, grey when
  // the lot is offline (its count is stale) or closed.
  function levelForShare(free, total) {
    if (total <= 0 || free <= 0) { return "red"; }
    var share = free / total;
    if (share < 0.1) { return "red"; }
    if (share < 0.3) { return "amber"; }
    return "green";
  }

  function level(p) {
    if (!isOnline(p)) { return "grey"; }
    return levelForShare(p.free_berths, p.total_berths);
  }

  function pinLabel(p) {
    if (!isOnline(p)) { return "–"; }
    return p.free_berths > 999 ? "999+" : String(p.free_berths);
  }

  function pinIcon(p) {
    var cls = "pin pin--" + level(p) + (p.code === selectedCode ? " pin--selected" : "");
    return L.divIcon({
      className: "lot-icon",
      iconSize: [36, 34],
      iconAnchor: [18, 34], // the pointer's tip

      html: '<div class="' + cls + '" data-code="' + esc(p.code) + '" data-free="' + esc(p.free_berths) +
        '" title="' + esc(p.name) + '">' + esc(pinLabel(p)) + "</div>"
    });
  }

  // 1234567 → "1,234,567": a cluster's free berths read at a glance.
  function grouped(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // A cluster says how many berths are free in it (the sum over its open lots), coloured by the
  // share free of those lots' berths: the city view tells where to park, and moves live.
  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers();
    var free = 0, total = 0, online = 0;
    for (var i = 0; i < children.length; i++) {
      var p = children[i].lotProps;
      if (isOnline(p)) { free += p.free_berths; total += p.total_berths; online += 1; }
    }
    var lvl = online ? levelForShare(free, total) : "grey";
    var label = online ? grouped(free) : "–";
    var size = label.length <= 3 ? 44 : label.length <= 5 ? 50 : 58;
    var title = children.length + " " + T.lots + " · " + (online ? label + " " + T.freeUnit : T.status_offline);
    return L.divIcon({
      className: "cluster-icon",
      iconSize: [size, size],
      html: '<div class="cluster cluster--' + lvl + '" style="width:' + size + "px;height:" + size + 'px"' +
        ' data-free="' + free + '" data-total="' + total + '" data-lots="' + children.length + '"' +
        ' title="' + esc(title) + '">' +
        '<b class="cluster-free">' + esc(label) + '</b><span class="cluster-unit">' + esc(T.freeUnit) + "</span></div>"
    });
  }

  // Wuxi time whatever the phone's zone: shift the instant by +08:00 and read it as UTC.
  var WUXI_OFFSET_MS = 8 * 3600 * 1000;
  function formatTime(iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) { return ""; }
    var local = new Date(d.getTime() + WUXI_OFFSET_MS);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(local.getUTCHours()) + ":" + two(local.getUTCMinutes());
  }

  function formatDistance(m) {
    return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km";
  }

  var tilesFailed = false;

  function setTilesFailed(failed) {
    if (tilesFailed === failed) { return; }
    tilesFailed = failed;
    $("bar-status").textContent = failed ? T.tilesFailedShort : "";
    $("bar-status").title = failed ? T.tilesFailed : "";
    $("bar-status").hidden = !failed;
    if (failed) {
      if ($("notice").hidden || $("notice").textContent === T.loading) { notice(T.tilesFailed, 8); }
    } else if ($("notice").textContent === T.tilesFailed) { notice(""); }
  }

  // One line of status over the map, for a moment when ``seconds`` is given. Lasting states (no
  // tiles) are kept in the bar under the map, so the notice never sits on lots for good.
  function notice(text, seconds, warn) {
    var el = $("notice");
    el.textContent = text || "";
    el.hidden = !text;
    el.className = "notice" + (warn ? " notice--warn" : "");
    if (text && seconds) {
      window.setTimeout(function () { if (el.textContent === text) { notice(""); } }, seconds * 1000);
    }
  }

  // ---- the map ---------------------------------------------------------------------------------
  var map = L.map("map", {
    zoomControl: false,
    attributionControl: false,
    minZoom: cfg.minZoom,
    maxZoom: cfg.maxZoom
  }).setView(cfg.center, cfg.zoom);
  window.wuxiParkingMap = map; // for the browser tests and for debugging from the console

  // The zoom buttons and the attribution live in the bar under the map, not over it, so no
  // control ever hides a lot (Leaflet keeps driving them: disabled at the zoom limits, etc.).
  var zoomControl = L.control.zoom({zoomInTitle: T.zoomIn, zoomOutTitle: T.zoomOut}).addTo(map);
  $("bar-zoom").appendChild(zoomControl.getContainer());
  var attribution = L.control.attribution({prefix: false}).addTo(map);
  $("bar-attribution").appendChild(attribution.getContainer());

  // Tiles are decoration: markers are added regardless, and a failing tile server only earns a
  // quiet notice (a closed network has no tiles at all).
  var tilesLoaded = 0, tileErrors = 0;
  cfg.tiles.forEach(function (layer) {
    L.tileLayer(layer.url, layer.options)
      .on("tileload", function () {
        tilesLoaded += 1;
        setTilesFailed(false);
      })
      .on("tileerror", function () {
        tileErrors += 1;
        if (!tilesLoaded && tileErrors >= 3) { setTilesFailed(true); }
      })
      .addTo(map);
  });

  var cluster = L.markerClusterGroup({
    chunkedLoading: true,
    chunkInterval: 120,
    chunkDelay: 30,
    maxClusterRadius: 60, // a cluster's badge is up to 58 px wide: neighbours must not overlap
    disableClusteringAtZoom: 17,
    showCoverageOnHover: false,
    spiderfyOnMaxZoom: false,
    removeOutsideVisibleBounds: true,
    iconCreateFunction: clusterIcon
  });
  map.addLayer(cluster);
  map.on("click", closeSheet);

  function isVisible(p) {
    if (filters.region && p.region !== filters.region) { return false; }
    if (filters.free && !(isOnline(p) && p.free_berths > 0)) { return false; }
    if (filters.ev && !(p.ev_berths > 0)) { return false; }
    if (filters.accessible && !(p.accessible_berths > 0)) { return false; }
    return true;
  }

  function makeMarker(p) {
    var marker = L.marker([p.lat, p.lon], {icon: pinIcon(p), keyboard: false});
    marker.lotProps = p;
    marker.on("click", function () { openCard(p.code); });
    return marker;
  }

  // Replace the registry with a fresh GeoJSON, keeping marker objects of lots already known.
  function ingest(collection) {
    var seen = new Set();
    (collection.features || []).forEach(function (f) {
      var p = Object.assign({}, f.properties || {});
      if (!p.code || !f.geometry || !f.geometry.coordinates) { return; }
      p.lon = f.geometry.coordinates[0];
      p.lat = f.geometry.coordinates[1];
      seen.add(p.code);
      var lot = lots.get(p.code);
      if (lot) {
        lot.props = p;
        lot.marker.lotProps = p;
        lot.marker.setLatLng([p.lat, p.lon]);
        lot.marker.setIcon(pinIcon(p));
      } else {
        lots.set(p.code, {props: p, marker: makeMarker(p), visible: false});
      }
    });
    lots.forEach(function (lot, code) {
      if (!seen.has(code)) { lots.delete(code); }
    });
    fillRegions();
    applyFilters();
  }

  function applyFilters() {
    var shown = [];
    lots.forEach(function (lot) {
      lot.visible = isVisible(lot.props);
      if (lot.visible) { shown.push(lot.marker); }
    });
    cluster.clearLayers();
    cluster.addLayers(shown);
    var active = (filters.region ? 1 : 0) + (filters.free ? 1 : 0) + (filters.ev ? 1 : 0) + (filters.accessible ? 1 : 0);
    $("filter-count").textContent = active;
    $("filter-count").hidden = !active;
    $("filter-summary").textContent = T.shown + " " + shown.length + " " + T.lots;
  }

  // Choosing a district shows it: fit its lots (those the other filters leave, or all of them
  // when they leave none); "all regions" shows every lot shown.
  function zoomToRegion(code) {
    var shown = [], all = [];
    lots.forEach(function (lot) {
      if (code && lot.props.region !== code) { return; }
      all.push([lot.props.lat, lot.props.lon]);
      if (lot.visible) { shown.push([lot.props.lat, lot.props.lon]); }
    });
    var points = shown.length ? shown : all;
    if (!points.length) { return; }
    // No animation: markercluster can drop markers re-added by a filter change mid-zoom.
    var cover = sheetCover();
    map.fitBounds(L.latLngBounds(points), {paddingTopLeft: [32 + cover.left, 32],
      paddingBottomRight: [32, 32 + cover.bottom], maxZoom: 16, animate: false});
  }

  function setFiltersOpen(open) {
    $("filters").hidden = !open;
    $("btn-filters").setAttribute("aria-expanded", String(open));
  }

  function fillRegions() {
    var select = $("f-region");
    var regions = new Map();
    lots.forEach(function (lot) {
      if (lot.props.region) { regions.set(lot.props.region, lot.props.region_name || lot.props.region); }
    });
    var codes = Array.from(regions.keys()).sort();
    var current = Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; });
    if (codes.join() === current.join()) { return; }
    select.length = 1;
    codes.forEach(function (code) { select.add(new Option(regions.get(code), code)); });
    select.value = codes.indexOf(filters.region) >= 0 ? filters.region : "";
  }

  // ---- live updates ----------------------------------------------------------------------------
  function applyUpdates(updates) {
    var refreshed = [];
    updates.forEach(function (u) {
      var lot = lots.get(u.code);
      if (!lot) { return; } // not in our GeoJSON yet: the next reload brings it
      var p = lot.props;
      if (p.free_berths === u.free_berths && p.total_berths === u.total_berths && p.status === u.status) {
        p.updated_at = u.updated_at;
        return; // a snapshot repeats most of what the GeoJSON said: nothing to redraw
      }
      var known = Date.parse(p.updated_at), incoming = Date.parse(u.updated_at);
      if (known && incoming && incoming < known) { return; } // older than what we show
      p.free_berths = u.free_berths;
      p.total_berths = u.total_berths;
      p.status = u.status;
      p.updated_at = u.updated_at;
      lot.marker.setIcon(pinIcon(p));
      var visible = isVisible(p);
      if (visible !== lot.visible) {
        lot.visible = visible;
        if (visible) { cluster.addLayer(lot.marker); } else { cluster.removeLayer(lot.marker); }
      } else if (visible) {
        refreshed.push(lot.marker);
      }
      if (p.code === selectedCode) { renderCounts(p); }
    });
    if (refreshed.length) { cluster.refreshClusters(refreshed); }
  }

  var socket = null;
  var backoff = 1000;

  function setLive(state) {
    var el = $("live");
    el.className = "live live--" + state;
    el.textContent = state === "live" ? T.live : state === "reconnecting" ? T.reconnecting : T.connecting;
  }

  function connectSocket() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    setLive(socket ? "reconnecting" : "connecting");
    var ws = new WebSocket(scheme + window.location.host + cfg.wsPath);
    socket = ws;
    ws.onopen = function () { backoff = 1000; setLive("live"); };
    ws.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "occupancy" && message.lots) { applyUpdates(message.lots); }
    };
    ws.onclose = function () {
      if (socket !== ws) { return; }
      setLive("reconnecting");
      retryLater();
    };
  }

  // Exponential back-off with jitter, capped at 30 s, so a restarted server is not stampeded.
  function retryLater() {
    var delay = backoff + Math.random() * backoff * 0.3;
    backoff = Math.min(backoff * 2, 30000);
    window.setTimeout(cycle, delay);
  }

  // Load (or reload) the GeoJSON, then open the socket; its snapshot corrects anything the
  // GeoJSON (possibly a cached copy) had stale.
  function cycle() {
    getJSON(cfg.geojsonUrl).then(function (collection) {
      var shown = $("notice").textContent;
      if (shown === T.loading || shown === T.loadFailed) { notice(""); }
      ingest(collection);
      document.body.setAttribute("data-lots", String(lots.size));
      if (initialLot && lots.has(initialLot)) { focusLot(initialLot); }
      initialLot = null;
      connectSocket();
    }, function () {
      notice(T.loadFailed);
      setLive("reconnecting");
      retryLater();
    });
  }

  // ---- the lot card ----------------------------------------------------------------------------
  var DURATIONS = [30, 60, 120, 180, 240, 360, 480, 720, 1440];
  var quoteSeq = 0;

  function durationLabel(minutes) {
    return minutes < 60 ? minutes + " " + T.minutes : (minutes / 60) + " " + T.hoursUnit;
  }

  function openSheet(html) {
    $("sheet-body").innerHTML = html;
    $("sheet").hidden = false;
  }

  // How much of the map the open sheet covers: its height on a phone (bottom sheet), its width
  // on a wide screen (side panel). Used to keep the lot in view beside or above it.
  function sheetCover() {
    var sheet = $("sheet");
    if (sheet.hidden) { return {bottom: 0, left: 0}; }
    var box = sheet.getBoundingClientRect(), area = map.getContainer().getBoundingClientRect();
    if (box.width >= area.width - 1) { return {bottom: Math.max(0, area.bottom - box.top), left: 0}; }
    return {bottom: 0, left: Math.max(0, box.right - area.left)};
  }

  function keepInView(latlng) {
    var cover = sheetCover(), size = map.getSize(), point = map.latLngToContainerPoint(latlng);
    var top = 40, bottom = size.y - cover.bottom - 40, left = cover.left + 40, right = size.x - 40;
    if (bottom <= top || right <= left) { return; }
    var dx = point.x < left || point.x > right ? point.x - (left + right) / 2 : 0;
    var dy = point.y < top || point.y > bottom ? point.y - (top + bottom) / 2 : 0;
    if (dx || dy) { map.panBy([dx, dy]); }
  }

  function closeSheet() {
    $("sheet").hidden = true;
    if (selectedCode) {
      var previous = lots.get(selectedCode);
      selectedCode = null;
      if (previous) { previous.marker.setIcon(pinIcon(previous.props)); }
    }
  }

  function select(code) {
    var previous = selectedCode && lots.get(selectedCode);
    selectedCode = code;
    if (previous) { previous.marker.setIcon(pinIcon(previous.props)); }
    var lot = lots.get(code);
    if (lot) { lot.marker.setIcon(pinIcon(lot.props)); }
  }

  function countsHtml(p) {
    var lvl = level(p);
    var chipLevel = lvl === "grey" ? "" : " chip--" + lvl;
    return '<span class="free free--' + lvl + '">' + esc(isOnline(p) ? p.free_berths : "–") + "</span>" +
      "<span>/ " + esc(p.total_berths) + " " + esc(T.berths) + "</span>" +
      '<span class="chip' + chipLevel + '">' + esc(T["status_" + p.status] || p.status) + "</span>";
  }

  // "预计30分钟后约 N 个空位" when the lot has a forecast (SPEC §4 ``forecast``, null where its
  // history cannot support one: then nothing is said); never for a lot whose count is not trusted.
  function forecastText(p) {
    var f = p.forecast;
    if (!f || typeof f.in_30_min !== "number" || !isOnline(p)) { return ""; }
    return T.forecast30.replace("%(free)s", String(f.in_30_min));
  }

  function renderForecast(p) {
    var el = $("card-forecast");
    if (!el) { return; }
    var text = forecastText(p);
    el.textContent = text;
    el.hidden = text === "";
  }

  function renderCounts(p) {
    var el = $("card-counts");
    if (el) { el.innerHTML = countsHtml(p); }
    var updated = $("card-updated");
    if (updated) { updated.textContent = p.updated_at ? T.updated + " " + formatTime(p.updated_at) : ""; }
    renderForecast(p);
  }

  // The fee estimator, only for a lot with a tariff (there is nothing to quote otherwise), offering
  // the vehicle classes that tariff prices.
  function pricedClasses(tariff) {
    return ["small", "large"].filter(function (name) { return tariff && tariff[name]; });
  }

  function estimatorHtml(classes) {
    if (!classes.length) { return ""; }
    var options = DURATIONS.map(function (m) {
      return '<option value="' + m + '"' + (m === 120 ? " selected" : "") + ">" + esc(durationLabel(m)) + "</option>";
    }).join("");
    var vehicles = classes.map(function (name) {
      return '<option value="' + name + '">' + esc(T[name]) + "</option>";
    }).join("");
    return '<form id="estimator" class="estimator">' +
        "<span>" + esc(T.estimate) + "</span>" +
        '<select name="minutes" aria-label="' + esc(T.duration) + '">' + options + "</select>" +
        '<select name="vehicle_class" aria-label="' + esc(T.vehicle) + '">' + vehicles + "</select>" +
        '<label><input type="checkbox" name="new_energy"> ' + esc(T.newEnergy) + "</label>" +
        '<span id="quote" class="amount">…</span>' +
      "</form>";
  }

  function showEstimator(code, tariff) {
    var slot = $("card-estimator"), classes = pricedClasses(tariff);
    if (slot === null || slot.getAttribute("data-classes") === classes.join()) { return; }
    slot.setAttribute("data-classes", classes.join());
    slot.innerHTML = estimatorHtml(classes);
    if (!classes.length) { return; }
    $("estimator").addEventListener("change", function () { quote(code); });
    quote(code);
  }

  function openCard(code) {
    var lot = lots.get(code);
    if (!lot) { return; }
    select(code);
    var p = lot.props;
    var extras = [];
    if (p.ev_berths) { extras.push(T.ev + " " + p.ev_berths); }
    if (p.accessible_berths) { extras.push(T.accessible + " " + p.accessible_berths); }
    openSheet(
      '<article class="card" data-code="' + esc(code) + '">' +
        "<h2>" + esc(p.name) + "</h2>" +
        '<p class="addr">' + esc(p.address || p.region_name || "") + "</p>" +
        '<div id="card-counts" class="counts">' + countsHtml(p) + "</div>" +
        '<p id="card-forecast" class="forecast" hidden></p>' +
        (extras.length ? '<p class="muted">' + esc(extras.join(" · ")) + "</p>" : "") +
        '<dl class="facts">' +
          "<div><dt>" + esc(T.hours) + '</dt><dd id="card-hours">' + esc(p.opening_hours || "") + "</dd></div>" +
          "<div><dt>" + esc(T.tariff) + '</dt><dd id="card-tariff">' + esc(p.tariff ? "…" : T.noTariff) + "</dd></div>" +
          '<div id="card-booking" hidden><dt>' + esc(T.booking) + '</dt><dd id="card-booking-rules"></dd></div>' +
        "</dl>" +
        '<div id="card-estimator" data-classes="-"></div>' +
        '<a class="nav-btn" href="' + esc(cfg.navigateUrl.replace("{code}", encodeURIComponent(code))) + '">' +
          esc(T.navigate) + "</a>" +
        '<p id="card-updated" class="updated"></p>' +
      "</article>"
    );
    renderCounts(p);
    showEstimator(code, p.tariff);
    keepInView([p.lat, p.lon]);
    getJSON(cfg.lotUrl.replace("{code}", encodeURIComponent(code))).then(function (detail) {
      if (selectedCode !== code) { return; }
      p.tariff = detail.tariff; // the detail is fresher than a cached GeoJSON
      p.forecast = detail.forecast;
      renderForecast(p);
      showEstimator(code, detail.tariff);
      $("card-tariff").textContent = detail.tariff_text || T.noTariff;
      if (detail.opening_hours) { $("card-hours").textContent = detail.opening_hours; }
      var rules = detail.booking_rules || [];
      if (rules.length) {
        $("card-booking-rules").textContent = rules.join("；");
        $("card-booking").hidden = false;
      }
      keepInView([p.lat, p.lon]); // the tariff text may have made the sheet taller
    }, function () {
      if (selectedCode === code) { $("card-tariff").textContent = T.noTariff; }
    });
  }

  function quote(code) {
    var form = $("estimator");
    if (!form) { return; }
    var seq = ++quoteSeq;
    var entry = new Date();
    var exit = new Date(entry.getTime() + Number(form.elements.minutes.value) * 60000);
    var query = new URLSearchParams({
      lot: code,
      entry: entry.toISOString(),
      exit: exit.toISOString(),
      vehicle_class: form.elements.vehicle_class.value,
      new_energy: form.elements.new_energy.checked ? "true" : "false"
    });
    $("quote").textContent = "…";
    getJSON(cfg.quoteUrl + "?" + query.toString()).then(function (data) {
      if (seq !== quoteSeq || !$("quote")) { return; }
      $("quote").textContent = T.estimated + " " + (data.amount_fen / 100).toFixed(2) + " " + T.yuan;
    }, function () {
      if (seq === quoteSeq && $("quote")) { $("quote").textContent = T.quoteFailed; }
    });
  }

  function focusLot(code) {
    var lot = lots.get(code);
    if (!lot) { return; }
    if (lot.visible) {
      cluster.zoomToShowLayer(lot.marker, function () { openCard(code); });
    } else {
      map.setView([lot.props.lat, lot.props.lon], Math.max(map.getZoom(), 17));
      openCard(code);
    }
  }

  // ---- near me ---------------------------------------------------------------------------------
  var meMarker = null;

  // Whether a point lies inside the city's outline (ray casting over [lat, lon] vertices).
  function insideCity(lat, lon) {
    var ring = cfg.cityOutline, inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][0], xi = ring[i][1], yj = ring[j][0], xj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }

  function locateFailed(error) {
    var code = error && error.code;
    var text = code === 1 ? T.locateDenied : code === 3 ? T.locateTimeout : T.locateUnavailable;
    notice(text, 6, true);
  }

  function nearMe() {
    if (!navigator.geolocation) { notice(T.locateUnavailable, 6, true); return; }
    notice(T.locating);
    navigator.geolocation.getCurrentPosition(function (position) {
      notice("");
      var lat = position.coords.latitude, lon = position.coords.longitude;
      if (!insideCity(lat, lon)) {
        // Nearest lots from another city are tens of kilometres away: say so, stay on Wuxi.
        if (meMarker) { map.removeLayer(meMarker); meMarker = null; }
        notice(T.outsideCity, 8, true);
        return;
      }
      if (!meMarker) {
        meMarker = L.marker([lat, lon], {
          icon: L.divIcon({className: "me-dot", iconSize: [16, 16], html: "<span></span>"}),
          interactive: false, keyboard: false, zIndexOffset: -1000 // under the lots' counts
        }).addTo(map);
      } else {
        meMarker.setLatLng([lat, lon]);
      }
      var query = new URLSearchParams({lat: lat.toFixed(6), lon: lon.toFixed(6), limit: "10", min_free: "1"});
      getJSON(cfg.nearestUrl + "?" + query.toString()).then(function (data) {
        var list = Array.isArray(data) ? data : (data.results || []);
        showNearby(list);
        var bounds = L.latLngBounds([[lat, lon]]);
        list.slice(0, 5).forEach(function (item) { bounds.extend([item.lat, item.lon]); });
        var cover = sheetCover();
        map.fitBounds(bounds, {paddingTopLeft: [40 + cover.left, 70], paddingBottomRight: [40, 40 + cover.bottom],
          maxZoom: 16});
      }, function () { notice(T.loadFailed, 5); });
    }, locateFailed, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  }

  function showNearby(list) {
    closeSheet();
    var rows = list.map(function (item) {
      return '<li><button type="button" data-code="' + esc(item.code) + '">' +
        '<span class="name">' + esc(item.name) + "</span>" +
        '<span class="chip chip--' + level(item) + '">' + esc(item.free_berths) + "/" + esc(item.total_berths) + "</span>" +
        '<span class="dist">' + esc(formatDistance(item.distance_m)) + "</span>" +
        "</button></li>";
    }).join("");
    openSheet('<section class="nearby"><h2>' + esc(T.nearbyTitle) + "</h2>" +
      (rows ? "<ol>" + rows + "</ol>" : '<p class="muted">' + esc(T.noneNearby) + "</p>") + "</section>");
  }

  // ---- wiring ----------------------------------------------------------------------------------
  $("sheet-close").addEventListener("click", closeSheet);
  $("sheet-body").addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".nearby button[data-code]") : null;
    if (button) { focusLot(button.getAttribute("data-code")); }
  });
  $("btn-near").addEventListener("click", nearMe);
  $("btn-filters").addEventListener("click", function () { setFiltersOpen($("filters").hidden); });
  $("filters").addEventListener("change", function (event) {
    filters.region = $("f-region").value;
    filters.free = $("f-free").checked;
    filters.ev = $("f-ev").checked;
    filters.accessible = $("f-accessible").checked;
    applyFilters();
    if (event.target === $("f-region")) {
      // On a phone the panel covers the top of the map: close it to show the district.
      setFiltersOpen(false);
      zoomToRegion(filters.region);
    }
  });
  $("filters").addEventListener("submit", function (event) { event.preventDefault(); });

  notice(T.loading);
  cycle();
})();
