/*
 * The console's only script. Pages work without it, except charts and copy buttons.
 * Loaded with `defer` from the hub (no inline script anywhere: the CSP forbids it), so the
 * document is parsed when it runs.
 *
 *   <button type="button" data-copy-target="ID" data-copied-label="已复制"
 *           data-copy-failed-label="…" hidden>复制</button>
 *       copies the text (or value, for a form field) of the element with that id. Rendered
 *       `hidden` so that it only appears where this script runs.
 *   <form data-confirm="MESSAGE">, <button data-confirm="MESSAGE">
 *       asks window.confirm before the form is submitted (the button's message wins).
 *   <div data-chart data-chart-options="ID"></div>
 *   <script type="application/json" id="ID">{ ECharts option }</script>
 *       draws an ECharts chart (SVG renderer) from the option; needs vendor/echarts.min.js
 *       loaded (deferred) before this file.
 *   <div class="error-summary" tabindex="-1">
 *       takes the focus when the page loads, so that a screen reader reads the errors first.
 */
(function () {
  "use strict";

  var CHART_PALETTE = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#b58800", "#505a5f"];
  var CHART_FONT =
    '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", system-ui, sans-serif';

  var liveRegion = null;

  function announce(message) {
    if (!liveRegion) {
      liveRegion = document.createElement("div");
      liveRegion.className = "visually-hidden";
      liveRegion.setAttribute("role", "status");
      liveRegion.setAttribute("aria-live", "polite");
      document.body.appendChild(liveRegion);
    }
    liveRegion.textContent = "";
    window.setTimeout(function () {
      liveRegion.textContent = message;
    }, 50);
  }

  // ---------- Copy to clipboard ----------

  function textOf(element) {
    if ("value" in element && typeof element.value === "string") {
      return element.value;
    }
    return element.textContent.trim();
  }

  // The asynchronous Clipboard API needs a secure context (HTTPS or localhost); a hub on an
  // intranet address over HTTP falls back to selecting the text and execCommand("copy").
  function copyBySelection(element) {
    var selection = window.getSelection();
    var saved = [];
    for (var i = 0; i < selection.rangeCount; i += 1) {
      saved.push(selection.getRangeAt(i));
    }
    var copied = false;
    if (typeof element.select === "function") {
      element.select();
    } else {
      var range = document.createRange();
      range.selectNodeContents(element);
      selection.removeAllRanges();
      selection.addRange(range);
    }
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    selection.removeAllRanges();
    saved.forEach(function (range) {
      selection.addRange(range);
    });
    return copied;
  }

  function copyElementText(element) {
    var text = textOf(element);
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () {
          return true;
        },
        function () {
          return copyBySelection(element);
        }
      );
    }
    return Promise.resolve(copyBySelection(element));
  }

  function setUpCopyButton(button) {
    var original = button.textContent;
    var timer = null;
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) {
        return;
      }
      copyElementText(target).then(function (copied) {
        var label = copied
          ? button.getAttribute("data-copied-label") || "Copied"
          : button.getAttribute("data-copy-failed-label") || "Copy failed";
        button.textContent = label;
        button.setAttribute("data-copy-state", copied ? "copied" : "failed");
        announce(label);
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          button.textContent = original;
          button.removeAttribute("data-copy-state");
        }, 2500);
      });
    });
  }

  // ---------- Confirmation before a form is submitted ----------

  function confirmSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var submitter = event.submitter;
    var message =
      (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }

  // ---------- Charts ----------

  function chartLocale() {
    var lang = (document.documentElement.getAttribute("lang") || "zh-CN").toLowerCase();
    return lang.indexOf("zh") === 0 ? "ZH" : "EN";
  }

  function withDefaults(option) {
    if (!option.color) {
      option.color = CHART_PALETTE;
    }
    option.textStyle = Object.assign({ fontFamily: CHART_FONT }, option.textStyle || {});
    // ECharts' HTML tooltips are built with innerHTML carrying style="" attributes, which the
    // CSP (no 'unsafe-inline' for styles) blocks: draw tooltips inside the chart instead.
    [].concat(option.tooltip || []).forEach(function (tooltip) {
      if (!tooltip.renderMode) {
        tooltip.renderMode = "richText";
      }
    });
    if (option.animation === undefined) {
      var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");
      option.animation = !(reduce && reduce.matches);
    }
    return option;
  }

  function drawCharts() {
    var nodes = document.querySelectorAll("[data-chart]");
    if (!nodes.length || !window.echarts) {
      return;
    }
    var charts = [];
    Array.prototype.forEach.call(nodes, function (node) {
      var source = document.getElementById(node.getAttribute("data-chart-options"));
      if (!source) {
        return;
      }
      var option;
      try {
        option = JSON.parse(source.textContent);
      } catch (error) {
        node.setAttribute("data-chart-state", "invalid");
        return;
      }
      node.textContent = "";
      var chart = window.echarts.init(node, null, { renderer: "svg", locale: chartLocale() });
      chart.setOption(withDefaults(option));
      node.setAttribute("data-chart-state", "drawn");
      charts.push(chart);
    });
    var pending = null;
    function resizeAll() {
      window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        charts.forEach(function (chart) {
          chart.resize();
        });
      }, 100);
    }
    window.addEventListener("resize", resizeAll);
    window.addEventListener("beforeprint", function () {
      charts.forEach(function (chart) {
        chart.resize();
      });
    });
  }

  var errorSummary = document.querySelector(".error-summary");
  if (errorSummary) {
    errorSummary.focus();
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy-target]"), setUpCopyButton);
  document.addEventListener("submit", confirmSubmit);
  drawCharts();
})();
