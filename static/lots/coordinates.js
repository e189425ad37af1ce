/* The lot position widget: a Leaflet marker kept in step with the lat/lon inputs.
   Inputs stay the source of truth, so the form still works without tiles or without Leaflet. */
(function () {
  "use strict";

  function setup(root) {
    var mapEl = root.querySelector(".wxp-coordinates-map");
    var inputs = root.querySelectorAll("input.wxp-coord");
    if (!mapEl || inputs.length !== 2) return;
    if (typeof window.L === "undefined") { mapEl.classList.add("wxp-unavailable"); return; }
    var latInput = inputs[0], lonInput = inputs[1];
    var config = JSON.parse(root.getAttribute("data-map-config"));
    var map = L.map(mapEl).setView(config.center, config.zoom);
    config.tiles.forEach(function (t) {
      L.tileLayer(t.url, { subdomains: t.subdomains, attribution: t.attribution, maxZoom: t.maxZoom }).addTo(map);
    });
    var marker = null;

    function current() {
      var lat = parseFloat(latInput.value), lon = parseFloat(lonInput.value);
      return (isFinite(lat) && isFinite(lon)) ? L.latLng(lat, lon) : null;
    }

    function write(latlng) {
      latInput.value = latlng.lat.toFixed(6);
      lonInput.value = latlng.lng.toFixed(6);
      // A point picked on a WGS-84 map is WGS-84, whatever the coordinate-system choice said.
      if (config.coordSystemInput) {
        var select = document.querySelector('[name="' + config.coordSystemInput + '"]');
        if (select) select.value = "wgs84";
      }
      latInput.dispatchEvent(new Event("change", { bubbles: true }));
      lonInput.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function place(latlng, pan) {
      if (!latlng) return;
      if (!marker) {
        marker = L.marker(latlng, { draggable: true, keyboard: true }).addTo(map);
        marker.on("dragend", function () { write(marker.getLatLng()); });
      } else {
        marker.setLatLng(latlng);
      }
      // No animation: a zoom animation in flight swallows the next setView, so typing a
      // coordinate key by key would leave the map centred on a half-typed value.
      if (pan) map.setView(latlng, Math.max(map.getZoom(), 16), { animate: false });
    }

    map.on("click", function (e) { place(e.latlng, false); write(e.latlng); });
    [latInput, lonInput].forEach(function (input) {
      input.addEventListener("input", function () { place(current(), true); });
    });
    place(current(), true);
    root.wxpMap = map;  // for tests and for other scripts on the page
  }

  function init() {
    document.querySelectorAll(".wxp-coordinates").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
