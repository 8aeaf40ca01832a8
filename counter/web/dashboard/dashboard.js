// The dashboard page: sign in, per-namespace totals, charts, the counters table, management.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const PAGE = 25;
  const HISTORY_MAX = 200; // histories fetched per namespace (the largest counters first)
  const DAY = 86400;
  const state = {
    me: null, namespace: null, counters: [], histories: new Map(), truncated: false,
    sort: { field: "key", dir: 1 }, search: "", page: 0, selected: null, stream: null,
    canManage: false, canRead: false,
  };

  // ---- small helpers -------------------------------------------------------------------------
  const fmt = new Intl.NumberFormat("en-US");
  const num = (v) => (typeof v === "bigint" ? v.toLocaleString("en-US") : fmt.format(v));
  const isoDay = (date) => date.toISOString().slice(0, 10);
  const todayUtc = () => isoDay(new Date());
  const daySeconds = (day) => Date.parse(`${day}T00:00:00Z`) / 1000;
  const big = (v) => (typeof v === "bigint" ? v : BigInt(v));
  function ttlText(ms) {
    if (ms < 0) return "never";
    const days = ms / 864e5;
    return days >= 1 ? `${Math.floor(days)} d` : `${Math.max(0, Math.floor(ms / 36e5))} h`;
  }
  function lastUpdate(key) {
    const history = state.histories.get(key);
    if (!history) return null;
    const hours = Object.keys(history.hourly).filter((h) => history.hourly[h] > 0).sort();
    if (hours.length) return `${hours[hours.length - 1].replace("T", " ")}:00`;
    const days = Object.keys(history.daily).filter((d) => history.daily[d] > 0).sort();
    return days.length ? days[days.length - 1] : null;
  }
  function show(element, visible) { element.hidden = !visible; }
  function setLoading(text) { $("loading").textContent = text; }

  // ---- theme -----------------------------------------------------------------------------------
  function applyTheme(theme) {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }
  applyTheme(localStorage.getItem("counter-theme"));
  $("theme").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    localStorage.setItem("counter-theme", next);
    applyTheme(next);
    if (state.me) drawCharts();
  });

  // ---- sign in -----------------------------------------------------------------------------
  async function signIn() {
    $("sign-in-error").textContent = "";
    try {
      state.me = await Api.me();
    } catch (error) {
      Api.clearToken();
      $("sign-in-error").textContent = error.status === 401
        ? "That token is not known to this server." : `Sign-in failed: ${error.message}`;
      return;
    }
    const perms = state.me.permissions;
    state.canRead = perms.includes("read");
    state.canManage = perms.includes("manage");
    if (!state.canRead && !perms.includes("stats")) {
      Api.clearToken();
      $("sign-in-error").textContent = "This token has neither the read nor the stats permission.";
      state.me = null;
      return;
    }
    show($("sign-in"), false);
    show($("board"), true);
    show($("sign-out"), true);
    $("who").textContent = `${state.me.name} · ${perms.join(", ")}`;
    document.querySelectorAll(".manage").forEach((el) => show(el, state.canManage));
    show($("manage-note"), state.canRead && !state.canManage);
    show($("counters-card"), state.canRead); // a stats-only token reads no counters
    const names = state.me.namespaces;
    const pick = document.querySelector(".ns-pick");
    show(pick, true);
    const wildcard = names.includes("*");
    show($("ns-select"), !wildcard);
    show($("ns-input"), wildcard);
    if (wildcard) {
      $("ns-input").value = sessionStorage.getItem("counter-dashboard-ns") || "";
      state.namespace = $("ns-input").value || null;
    } else {
      $("ns-select").replaceChildren(...names.map((n) => new Option(n, n)));
      state.namespace = names[0];
    }
    if (state.namespace) await load();
    else setLoading("type a namespace");
  }

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    Api.setToken($("token").value.trim());
    $("token").value = "";
    signIn();
  });
  $("sign-out").addEventListener("click", () => {
    Api.clearToken();
    location.reload();
  });
  $("ns-select").addEventListener("change", () => { state.namespace = $("ns-select").value; load(); });
  $("ns-input").addEventListener("change", () => {
    state.namespace = $("ns-input").value.trim();
    sessionStorage.setItem("counter-dashboard-ns", state.namespace);
    load();
  });

  // ---- loading a namespace -----------------------------------------------------------------
  async function load() {
    const ns = state.namespace;
    setLoading("loading…");
    $("table-error").textContent = "";
    state.histories = new Map();
    state.counters = [];
    try {
      if (state.canRead) {
        const { counters, truncated } = await Api.counters(ns);
        state.counters = counters;
        state.truncated = truncated;
        await loadHistories(ns);
      } else {
        await loadVisitHistories(ns);
      }
    } catch (error) {
      $("table-error").textContent = `Could not read ${ns}: ${error.message}`;
    }
    if (ns !== state.namespace) return; // another namespace was picked meanwhile
    if (state.selected && !state.counters.some((c) => c.key === state.selected)) select(null);
    renderTiles();
    drawCharts();
    renderTable();
    setLoading("");
    loadStats(ns);
  }

  async function loadHistories(ns) {
    const largest = [...state.counters]
      .sort((a, b) => (big(b.value) > big(a.value) ? 1 : big(b.value) < big(a.value) ? -1 : 0))
      .slice(0, HISTORY_MAX);
    const queue = [...largest];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const full = await Api.counter(ns, c.key);
        state.histories.set(c.key, { daily: full.daily, hourly: full.hourly });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const partial = state.counters.length > largest.length || state.truncated;
    $("chart-note").textContent = partial
      ? `Charts sum the ${largest.length} largest counters of ${state.counters.length}${state.truncated ? "+" : ""}.`
      : "";
  }

  // A stats-only token reads no counters: the charts then show visits per path (stats.js).
  async function loadVisitHistories(ns) {
    const visits = await Stats.visitHistories(ns, ...range());
    if (!visits) {
      $("chart-note").textContent = "This server has no statistics API for the charts.";
      return;
    }
    state.histories = visits.histories;
    $("chart-note").textContent = `Charts show visits (statistics API)${
      visits.more ? ` of the ${visits.histories.size} top paths` : ""}.`;
  }

  // ---- tiles and charts --------------------------------------------------------------------
  function range() {
    let from = $("from").value;
    let to = $("to").value;
    if (!to) to = $("to").value = todayUtc();
    if (!from) from = $("from").value = isoDay(new Date(Date.parse(to) - 29 * DAY * 1000));
    return from <= to ? [from, to] : [to, from];
  }

  function days(from, to) {
    const out = [];
    for (let t = daySeconds(from); t <= daySeconds(to); t += DAY) out.push(isoDay(new Date(t * 1000)));
    return out;
  }

  function sumDaily(list, keys) {
    return list.map((day) => keys.reduce((s, k) => s + (state.histories.get(k)?.daily[day] || 0), 0));
  }

  function renderTiles() {
    const [from, to] = range();
    const keys = [...state.histories.keys()];
    const total = state.counters.reduce((s, c) => s + big(c.value), 0n);
    $("total").textContent = state.canRead ? num(total) : "–";
    $("today").textContent = num(sumDaily([todayUtc()], keys)[0]);
    $("in-range").textContent = num(sumDaily(days(from, to), keys).reduce((a, b) => a + b, 0));
    $("count").textContent = state.canRead ? num(state.counters.length) : "–";
    $("daily-title").textContent = `${from} – ${to}`;
  }

  function drawCharts() {
    const [from, to] = range();
    const keys = [...state.histories.keys()];
    const list = days(from, to);
    const chosen = state.selected && state.histories.has(state.selected) ? [state.selected] : null;
    dailyChart.totalLabel = hourlyChart.totalLabel = state.canRead ? "all counters" : "visits";
    dailyChart.draw(list.map(daySeconds), sumDaily(list, keys), chosen && sumDaily(list, chosen),
      state.selected);
    const now = Math.floor(Date.now() / 1000 / 3600) * 3600;
    const hours = [];
    for (let t = now - 47 * 3600; t <= now; t += 3600) hours.push(t);
    const label = (t) => new Date(t * 1000).toISOString().slice(0, 13);
    const sumHours = (ks) => hours.map((t) =>
      ks.reduce((s, k) => s + (state.histories.get(k)?.hourly[label(t)] || 0), 0));
    hourlyChart.draw(hours, sumHours(keys), chosen && sumHours(chosen), state.selected);
  }

  const dailyChart = new Charts.BarChart($("daily-chart"), false);
  const hourlyChart = new Charts.BarChart($("hourly-chart"), true);
  for (const id of ["from", "to"]) {
    $(id).addEventListener("change", () => { // a stats-only token's charts are fetched anew
      if (state.canRead) { renderTiles(); drawCharts(); loadStats(state.namespace); } else load();
    });
  }

  // ---- statistics (GoatCounter-style API, when the server has it) --------------------------
  async function loadStats(ns) {
    const [from, to] = range();
    const panels = await Stats.panels(ns, from, to);
    if (ns !== state.namespace) return;
    show($("stats"), panels !== null);
    show($("stats-note"), panels === null);
    for (const [page, rows] of Object.entries(panels || {})) Stats.render($(`stats-${page}`), rows, num);
  }

  // ---- the counters table ------------------------------------------------------------------
  function sorted() {
    const { field, dir } = state.sort;
    const text = state.search.toLowerCase();
    const value = (c) => (field === "updated" ? lastUpdate(c.key) || "" : field === "value" ? big(c.value) : c[field]);
    return state.counters
      .filter((c) => c.key.toLowerCase().includes(text))
      .sort((a, b) => {
        const x = value(a);
        const y = value(b);
        return (x > y ? 1 : x < y ? -1 : 0) * dir;
      });
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderTable() {
    const rows = sorted();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE, (state.page + 1) * PAGE);
    $("counters").tBodies[0].replaceChildren(...shown.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.key = c.key;
      if (c.key === state.selected) tr.className = "selected";
      const key = cell(c.key, "key");
      key.title = "show this counter in the charts";
      key.addEventListener("click", () => select(c.key === state.selected ? null : c.key));
      if (c.key === state.selected && state.stream && state.stream.readyState === 1) {
        const live = document.createElement("span");
        live.className = "live";
        live.textContent = "● live";
        key.append(live);
      }
      tr.append(key, cell(num(c.value), "n value"), cell(new Date(c.created).toISOString().slice(0, 10)),
        cell(lastUpdate(c.key) || "—"), cell(ttlText(c.ttl), "n"));
      if (state.canManage) tr.append(actions(c));
      return tr;
    }));
    $("page-info").textContent = `${rows.length ? state.page * PAGE + 1 : 0}–${state.page * PAGE + shown.length} of ${rows.length}`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    document.querySelectorAll("th[data-sort]").forEach((th) => {
      th.setAttribute("aria-sort", th.dataset.sort === state.sort.field
        ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
    });
  }

  document.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const field = th.dataset.sort;
    state.sort = { field, dir: state.sort.field === field ? -state.sort.dir : field === "key" ? 1 : -1 };
    renderTable();
  }));
  $("search").addEventListener("input", () => { state.search = $("search").value; state.page = 0; renderTable(); });
  $("prev").addEventListener("click", () => { state.page -= 1; renderTable(); });
  $("next").addEventListener("click", () => { state.page += 1; renderTable(); });

  // ---- selection and live values -------------------------------------------------------------
  function select(key) {
    state.selected = key;
    if (state.stream) state.stream.close();
    state.stream = null;
    $("live-note").textContent = "";
    if (key) listen(state.namespace, key);
    drawCharts();
    renderTable();
  }

  function listen(ns, key) {
    const url = `${Api.root}/stream/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`;
    const stream = new EventSource(url);
    state.stream = stream;
    let opened = false;
    stream.onopen = () => { opened = true; renderTable(); };
    stream.onmessage = (event) => {
      const counter = state.counters.find((c) => c.key === key);
      const data = JSON.parse(event.data);
      if (counter && data && data.value !== undefined) {
        counter.value = data.value;
        renderTiles();
        renderTable();
      }
    };
    stream.onerror = () => {
      if (!opened && stream.readyState === EventSource.CLOSED) {
        $("live-note").textContent = "Live values appear when this server has streams (/stream).";
      }
    };
  }

  // ---- management (manage permission) --------------------------------------------------------
  function ask(text, withValue) {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    show($("confirm-value"), withValue);
    $("confirm-value").value = "";
    $("confirm-value").required = withValue;
    dialog.returnValue = "";
    dialog.showModal();
    if (withValue) $("confirm-value").focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "ok" ? $("confirm-value").value : null);
      }, { once: true });
    });
  }

  async function act(work) {
    $("table-error").textContent = "";
    try {
      await work();
      await load();
    } catch (error) {
      $("table-error").textContent = `Refused: ${error.message}`;
    }
  }

  function actions(counter) {
    const td = document.createElement("td");
    td.className = "actions";
    const ns = state.namespace;
    const button = (label, onClick, danger) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      if (danger) b.className = "danger";
      b.addEventListener("click", onClick);
      td.append(b);
    };
    button("set", async () => {
      const value = await ask(`New value for ${ns}/${counter.key}:`, true);
      if (value !== null && value !== "") act(() => Api.put(ns, counter.key, BigInt(value)));
    });
    button("reset", async () => {
      if (await ask(`Reset ${ns}/${counter.key} to 0? Its history is kept.`, false) !== null) {
        act(() => Api.reset(ns, counter.key));
      }
    }, true);
    button("delete", async () => {
      if (await ask(`Delete ${ns}/${counter.key} and its history? This cannot be undone.`, false) !== null) {
        act(() => Api.remove(ns, counter.key));
      }
    }, true);
    return td;
  }

  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("new-key").value.trim();
    const value = BigInt($("new-value").value || "0");
    act(async () => {
      await Api.put(state.namespace, key, value);
      $("new-key").value = "";
    });
  });

  // ---- start -------------------------------------------------------------------------------
  if (Api.token()) signIn();
})();
