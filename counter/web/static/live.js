/* counter live.js: every element with data-counter="namespace/key" (or "key") shows that
 * counter's value and follows it live over /stream (Server-Sent Events), or by polling /get
 * every data-counter-poll milliseconds (default 10000) where EventSource is missing.
 *   data-counter-hit      count this page view once (/hit) before following
 *   data-counter-format   "plain" (default), "comma" (1,234) or "short" (1.2k)
 *   data-counter-missing  text shown while the counter does not exist (default "0")
 * window.counterLive.scan() picks up elements added later. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/\/live\.js(\?.*)?$/, "") : "";
  var followed = {};

  function format(value, how) {
    if (value === null || value === undefined) return null;
    if (how === "comma") return Number(value).toLocaleString("en-US");
    if (how === "short") {
      var units = ["", "k", "M", "G", "T", "P", "E"], n = Math.abs(value), i = 0;
      while (n >= 999.95 && i < units.length - 1) { n /= 1000; i++; }
      var text = i === 0 ? String(n) : (n < 9.95 ? n.toFixed(1).replace(/\.0$/, "") : Math.round(n));
      return (value < 0 ? "-" : "") + text + units[i];
    }
    return String(value);
  }

  function show(path, value) {
    var nodes = document.querySelectorAll("[data-counter]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (node.getAttribute("data-counter") !== path) continue;
      var text = format(value, node.getAttribute("data-counter-format"));
      node.textContent = text === null ? (node.getAttribute("data-counter-missing") || "0") : text;
    }
  }

  function poll(path, every) {
    function tick() {
      var request = new XMLHttpRequest();
      request.open("GET", base + "/get/" + path);
      request.onload = function () {
        if (request.status === 200) show(path, JSON.parse(request.responseText).value);
        else if (request.status === 404) show(path, null);
        setTimeout(tick, every);
      };
      request.onerror = function () { setTimeout(tick, every); };
      request.send();
    }
    tick();
  }

  function follow(path, every) {
    if (window.EventSource) {
      var source = new EventSource(base + "/stream/" + path);
      source.onmessage = function (e) { show(path, JSON.parse(e.data).value); };
      source.addEventListener("missing", function () { show(path, null); });
    } else {
      poll(path, every);
    }
  }

  function start(path, node) {
    var every = parseInt(node.getAttribute("data-counter-poll"), 10) || 10000;
    if (!node.hasAttribute("data-counter-hit")) return follow(path, every);
    var request = new XMLHttpRequest();  // count the view first, then follow from there
    request.open("GET", base + "/hit/" + path);
    request.onload = request.onerror = function () {
      if (request.status === 200) show(path, JSON.parse(request.responseText).value);
      follow(path, every);
    };
    request.send();
  }

  function scan() {
    var nodes = document.querySelectorAll("[data-counter]");
    for (var i = 0; i < nodes.length; i++) {
      var path = nodes[i].getAttribute("data-counter");
      if (!path || followed[path]) continue;
      followed[path] = true;
      start(path, nodes[i]);
    }
  }

  window.counterLive = { scan: scan };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
