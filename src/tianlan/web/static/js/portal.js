/* Portal charts (ECharts, vendored). Data come from data-* attributes rendered by the server. */
(function () {
  "use strict";
  function data(el, name) { return JSON.parse(el.getAttribute("data-" + name)); }
  function colourOf(levels, aqi) {
    if (aqi === null || aqi === undefined) return "#BBBBBB";
    for (var i = 0; i < levels.length; i++) {
      if (levels[i].max === null || aqi <= levels[i].max) return levels[i].color;
    }
    return levels[levels.length - 1].color;
  }
  function resizeWith(chart) { window.addEventListener("resize", function () { chart.resize(); }); }
  window.tianlanCharts = {};

  var mapEl = document.getElementById("aqi-map");
  if (mapEl && window.echarts) {
    var points = data(mapEl, "points"), levels = data(mapEl, "levels");
    var chart = echarts.init(mapEl);
    window.tianlanCharts.map = chart;
    resizeWith(chart);
    var draw = function (geoOk) {
      var series = [{
        type: "scatter", name: mapEl.getAttribute("data-aqi-label"),
        coordinateSystem: geoOk ? "geo" : "cartesian2d",
        symbolSize: function (v) { return v[2] === null ? 8 : 12; },
        data: points.map(function (p) {
          return { name: p.name, code: p.code, value: p.value, itemStyle: { color: colourOf(levels, p.value[2]),
                   borderColor: "#333", borderWidth: 0.6 } };
        }),
        label: { show: false }
      }];
      var opt = {
        tooltip: { trigger: "item", formatter: function (p) {
          var v = p.value[2]; return p.name + "<br>AQI " + (v === null ? mapEl.getAttribute("data-none") : v); } },
        series: series
      };
      if (geoOk) {
        opt.geo = { map: "hebei", roam: true, aspectScale: 0.85, top: 8, bottom: 8, itemStyle: { areaColor: "#eef3f8", borderColor: "#8aa" },
                    emphasis: { itemStyle: { areaColor: "#dfe9f3" }, label: { show: false } } };
      } else {
        opt.xAxis = { type: "value", scale: true, name: "E" }; opt.yAxis = { type: "value", scale: true, name: "N" };
      }
      chart.setOption(opt);
      mapEl.setAttribute("data-ready", String(points.length));
    };
    fetch("/static/vendor/maps/hebei.json").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geo) { if (geo) { echarts.registerMap("hebei", geo); } draw(!!geo); })
      .catch(function () { draw(false); });
  }

  var trendEl = document.getElementById("trend-chart");
  if (trendEl && window.echarts) {
    var hours = data(trendEl, "hours"), series = data(trendEl, "series"), lv = data(trendEl, "levels");
    var tc = echarts.init(trendEl);
    window.tianlanCharts.trend = tc;
    resizeWith(tc);
    var pieces = lv.map(function (l) { return { gte: l.min, lte: l.max === null ? 10000 : l.max, color: l.color }; });
    tc.setOption({
      tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 },
      grid: { left: 40, right: 10, top: 40, bottom: 30 },
      xAxis: { type: "category", data: hours }, yAxis: { type: "value", name: "AQI", min: 0 },
      series: series.map(function (s) {
        // the city's own hourly AQI (series.city) is drawn thick, above its stations' lines
        return { type: "line", name: s.name, data: s.data, connectNulls: false, symbolSize: s.city ? 6 : 4,
                 z: s.city ? 5 : 2, lineStyle: { width: s.city ? 4 : 1.5, type: s.city ? "solid" : "dashed" },
                 markArea: undefined };
      }),
      visualMap: { show: false, dimension: 1, pieces: pieces, seriesIndex: series.map(function (_, i) { return i; }) }
    });
    trendEl.setAttribute("data-ready", String(series.length));
  }

  var rankEl = document.getElementById("ranking-chart");
  if (rankEl && window.echarts) {
    var rows = data(rankEl, "rows");
    var rc = echarts.init(rankEl);
    window.tianlanCharts.ranking = rc;
    resizeWith(rc);
    rc.setOption({
      tooltip: { trigger: "axis" }, grid: { left: 80, right: 30, top: 10, bottom: 30 },
      xAxis: { type: "value", name: rankEl.getAttribute("data-label"), min: 0 },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.rank + ". " + r.name; }) },
      series: [{ type: "bar", data: rows.map(function (r) { return r.index; }), itemStyle: { color: "#1f5fa8" },
                 label: { show: true, position: "right", formatter: function (p) { return p.value.toFixed(2); } } }]
    });
    rankEl.setAttribute("data-ready", String(rows.length));
  }
})();
