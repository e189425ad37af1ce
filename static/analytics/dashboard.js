/* The supervision dashboard's charts (Apache ECharts, vendored) and the hotspot heat layer (Leaflet +
 * Leaflet.heat, vendored). Every chart draws what the table under it holds; the page is readable
 * without this script. The base map's tiles are the only outside request, and the heat points
 * never wait for them. */
(function () {
  "use strict";
  var node = document.getElementById("dashboard-config");
  if (!node) { return; }
  var cfg = JSON.parse(node.textContent);
  var T = cfg.text || {};
  var PALETTE = ["#2f6fb0", "#e07b39", "#3a9d5d", "#c44e52", "#8172b2", "#937860"];
  var charts = [];

  function bar(el, c) {
    var series = c.series.map(function (s, i) {
      if (s.kind === "target") {
        return { name: s.name, type: "scatter", symbol: "rect", symbolSize: [18, 3], data: s.data,
                 itemStyle: { color: "#c44e52" }, z: 3 };
      }
      return { name: s.name, type: "bar", data: s.data, stack: s.stack, itemStyle: { color: PALETTE[i % PALETTE.length] } };
    });
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 56 },
      xAxis: { type: "category", data: c.categories, axisLabel: { interval: 0, rotate: c.categories.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", max: c.max || null },
      series: series
    };
  }

  function heatmap(el, c) {
    var values = c.data.map(function (d) { return d[2]; });
    return {
      animation: false,
      tooltip: { position: "top" },
      grid: { left: 64, right: 16, top: 8, bottom: 64 },
      xAxis: { type: "category", data: c.x, splitArea: { show: true } },
      yAxis: { type: "category", data: c.y, splitArea: { show: true } },
      visualMap: { min: 0, max: Math.max(100, Math.max.apply(null, values.concat([0]))), calculable: true,
                   orient: "horizontal", left: "center", bottom: 0,
                   inRange: { color: ["#f7fbff", "#9ecae1", "#fdae6b", "#d94801"] } },
      series: [{ type: "heatmap", data: c.data, label: { show: false } }]
    };
  }

  function heatLayer(el, c) {
    var map = L.map(el, { center: cfg.center, zoom: 11, minZoom: 8, maxZoom: 18 });
    var failed = 0;
    (cfg.tiles || []).forEach(function (layer) {
      L.tileLayer(layer.url, layer.options).on("tileerror", function () {
        failed += 1;
        if (failed === 3) { el.setAttribute("data-tiles-failed", T.tilesFailed || ""); }
      }).addTo(map);
    });
    if (!c.points.length) {
      el.setAttribute("data-empty", T.noData || "");
      return map;
    }
    L.heatLayer(c.points, { radius: 25, blur: 18, maxZoom: 15, max: 1.0, minOpacity: 0.35 }).addTo(map);
    c.points.forEach(function (p, i) {  // a hover target per hotspot: the heat itself has none
      L.circleMarker([p[0], p[1]], { radius: 5, weight: 1, color: "#7f2704", fillOpacity: 0.6 })
        .bindTooltip(c.labels[i]).addTo(map);
    });
    map.fitBounds(c.points.map(function (p) { return [p[0], p[1]]; }), { padding: [24, 24], maxZoom: 15 });
    return map;
  }

  cfg.charts.forEach(function (c) {
    var el = document.getElementById("chart-" + c.id);
    if (!el) { return; }
    if (c.type === "heat") {
      if (window.L && L.heatLayer) { heatLayer(el, c); }
      return;
    }
    if (!window.echarts) { return; }
    var empty = c.type === "heatmap" ? !c.data.length : !c.categories.length;
    if (empty) {
      el.classList.add("dash-chart--empty");
      el.textContent = T.noData || "";
      return;
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(c.type === "heatmap" ? heatmap(el, c) : bar(el, c));
    el.setAttribute("data-rendered", "1");
    charts.push(chart);
  });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
}());
