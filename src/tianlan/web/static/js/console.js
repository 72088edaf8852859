/* Console charts: alarm evidence (series, neighbours, flagged stretches, thresholds), station data and QC. */
(function () {
  "use strict";
  function data(el) { return JSON.parse(el.getAttribute("data-chart")); }
  function ms(t) { return t * 1000; }
  window.tianlanCharts = window.tianlanCharts || {};
  var fmt = function (v) { return echarts.format.formatTime("yyyy-MM-dd hh:mm", v + 8 * 3600 * 1000, true); };

  var ev = document.getElementById("evidence-chart");
  if (ev && window.echarts) {
    var d = data(ev), c = echarts.init(ev);
    window.tianlanCharts.evidence = c;
    var series = d.series.map(function (s, i) {
      var out = { type: "line", name: s.name, showSymbol: false, data: s.data.map(function (p) { return [ms(p[0]), p[1]]; }),
                  lineStyle: { width: s.own ? 2.5 : 1, type: s.own ? "solid" : "dashed" }, z: s.own ? 3 : 2 };
      if (i === 0) {
        out.markArea = { silent: true, label: { show: false },
          data: d.areas.map(function (a) {  // failed stretches darker than suspect ones
            var alpha = a.status === "FAIL" ? 0.22 : 0.08;
            return [{ name: a.name, xAxis: ms(a.start), itemStyle: { color: "rgba(230,81,0," + alpha + ")" } },
                    { xAxis: ms(a.end) }]; }) };
        out.markLine = { symbol: "none", lineStyle: { color: "#b71c1c", type: "dotted" },
          label: { formatter: "{b}: {c}", position: "insideEndTop" },
          data: d.levels.map(function (l) { return { name: l.name, yAxis: l.value }; }) };
      }
      return out;
    });
    if (!series.length) {  // station-wide alarm: show the flagged stretches on an empty time axis
      series.push({ type: "line", name: d.parameter, data: [], markArea: { data: d.areas.map(function (a) {
        return [{ name: a.name, xAxis: ms(a.start) }, { xAxis: ms(a.end) }]; }) } });
    }
    c.setOption({ tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 },
      grid: { left: 50, right: 20, top: 40, bottom: 60 }, dataZoom: [{ type: "inside" }, { type: "slider", height: 18 }],
      xAxis: { type: "time", axisLabel: { formatter: function (v) { return fmt(v).slice(5, 16); } } },
      yAxis: { type: "value", name: d.parameter, scale: true }, series: series });
    ev.setAttribute("data-ready", String(d.series.length));
    window.addEventListener("resize", function () { c.resize(); });
  }

  var st = document.getElementById("station-chart");
  if (st && window.echarts) {
    var s = data(st), sc = echarts.init(st);
    window.tianlanCharts.station = sc;
    var flagged = [];
    s.times.forEach(function (t, i) { if (s.flags[i] && s.flags[i] !== "N") flagged.push([ms(t), s.values[i], s.flags[i]]); });
    sc.setOption({ tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 50, right: 20, top: 40, bottom: 60 },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18 }],
      xAxis: { type: "time" }, yAxis: { type: "value", name: s.parameter, scale: true },
      series: [{ type: "line", name: s.parameter, showSymbol: false, data: s.times.map(function (t, i) { return [ms(t), s.values[i]]; }) },
               { type: "scatter", name: "flag ≠ N", symbolSize: 7, itemStyle: { color: "#e65100" }, data: flagged,
                 tooltip: { formatter: function (p) { return "flag " + p.value[2]; } } }] });
    st.setAttribute("data-ready", String(s.times.length));
    window.addEventListener("resize", function () { sc.resize(); });
  }

  var qc = document.getElementById("qc-chart");
  if (qc && window.echarts) {
    var q = data(qc), qcChart = echarts.init(qc);
    window.tianlanCharts.qc = qcChart;
    var dets = []; q.qc.forEach(function (r) { if (dets.indexOf(r.detector) < 0) dets.push(r.detector); });
    var colour = { 1: "#43a047", 2: "#9e9e9e", 3: "#f9a825", 4: "#c62828", 9: "#6d4c41" };
    qcChart.setOption({ tooltip: { formatter: function (p) { return p.data.r.detector + " " + p.data.r.parameter + " · " + p.data.r.reason; } },
      grid: { left: 80, right: 20, top: 10, bottom: 30 }, xAxis: { type: "time" }, yAxis: { type: "category", data: dets },
      series: [{ type: "custom", renderItem: function (params, api) {
        var a = api.coord([api.value(0), api.value(2)]), b = api.coord([api.value(1), api.value(2)]);
        var h = api.size([0, 1])[1] * 0.6;
        return { type: "rect", shape: { x: a[0], y: a[1] - h / 2, width: Math.max(2, b[0] - a[0]), height: h },
                 style: { fill: colour[api.value(3)] || "#999" } };
      }, encode: { x: [0, 1], y: 2 }, data: q.qc.map(function (r) {
        return { value: [ms(r.start), ms(r.end), dets.indexOf(r.detector), r.status], r: r }; }) }] });
    qc.setAttribute("data-ready", String(q.qc.length));
  }
})();
