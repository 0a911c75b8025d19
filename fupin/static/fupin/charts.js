/* fupin charts: draws every <div class="fupin-chart" data-chart-id="X"> with the vendored
   ECharts, from the option in <script id="X-option" type="application/json"> (Django's
   json_script, see templates/charts/chart.html). Runs on load and after every htmx swap, and
   disposes charts whose element a swap removed, so that no ECharts instance (and its
   listeners) outlives its element. No inline JS is needed on the pages (CSP). */
(function () {
  "use strict";

  var live = new Map(); // element -> ECharts instance
  var observer = "ResizeObserver" in window ? new ResizeObserver(onResize) : null;

  function locale() {
    return (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 ? "ZH" : "EN";
  }

  function readOption(el) {
    var source = document.getElementById(el.dataset.chartId + "-option");
    if (!source) {
      console.error("fupin charts: no option #" + el.dataset.chartId + "-option");
      return null;
    }
    var option = JSON.parse(source.textContent);
    // Same type as the rest of the page; ECharts would fall back to a Latin sans-serif.
    option.textStyle = Object.assign({ fontFamily: getComputedStyle(el).fontFamily }, option.textStyle);
    if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      option.animation = false;
    }
    return option;
  }

  function draw(el) {
    if (live.has(el) || !window.echarts) {
      return;
    }
    var option = readOption(el);
    if (!option) {
      return;
    }
    if (!el.style.height && el.clientHeight === 0) {
      el.style.height = el.dataset.chartHeight || "20rem";
    }
    // SVG prints sharply, where a canvas would be scaled up into blur.
    var chart = window.echarts.init(el, null, { renderer: "svg", locale: locale() });
    chart.setOption(option);
    live.set(el, chart);
    if (observer) {
      observer.observe(el);
    }
  }

  function drawAll(root) {
    root.querySelectorAll(".fupin-chart").forEach(draw);
  }

  function disposeRemoved() {
    live.forEach(function (chart, el) {
      if (!el.isConnected) {
        if (observer) {
          observer.unobserve(el);
        }
        chart.dispose();
        live.delete(el);
      }
    });
  }

  function onResize(entries) {
    entries.forEach(function (entry) {
      var chart = live.get(entry.target);
      if (chart) {
        chart.resize();
      }
    });
  }

  var pending = false;
  function resizeAll() {
    if (pending) {
      return;
    }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      live.forEach(function (chart) {
        chart.resize();
      });
    });
  }

  function start() {
    drawAll(document);
    // htmx swaps in and settles new content: sweep out what it removed, draw what it added.
    // The event's target may itself be gone (outerHTML swap), so look at the whole page:
    // charts already drawn are skipped.
    document.body.addEventListener("htmx:afterSettle", function () {
      disposeRemoved();
      drawAll(document);
    });
    document.body.addEventListener("htmx:afterSwap", disposeRemoved);
    if (!observer) {
      window.addEventListener("resize", resizeAll);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
