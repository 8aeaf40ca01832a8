// The statistics panels and the visit charts, from the GoatCounter-style stats API
// (/api/v0/stats/*, docs/goatcounter.md); dashboard.js draws what these return.
"use strict";

const Stats = (() => {
  const DAY_MS = 864e5;
  const PAGES = ["hits", "toprefs", "browsers", "systems", "sizes"];
  const isoDay = (date) => date.toISOString().slice(0, 10);
  // The API's end is exclusive and a bare date is its midnight: the day after `day` includes it.
  const dayAfter = (day) => isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS));

  // An empty referrer is GoatCounter's direct visits, which its dashboard calls "(no data)".
  const EMPTY = { toprefs: "(no data)" };

  // {page: [[name, count], ...]} for the panels, or null when this server or token has none.
  async function panels(ns, from, to) {
    let results;
    try {
      results = await Promise.all(PAGES.map((p) => Api.stats(p, ns, from, dayAfter(to))));
    } catch {
      return null;
    }
    if (!results.every((r) => r !== null)) return null;
    return Object.fromEntries(PAGES.map((page, i) => [page, page === "hits"
      ? (results[i].hits || []).map((h) => [h.path, h.count])
      : (results[i].stats || []).map((s) => [s.name || EMPTY[page] || "(unknown)", s.count])]));
  }

  function render(list, rows, format) {
    list.replaceChildren(...rows.map(([name, count]) => {
      const li = document.createElement("li");
      const a = document.createElement("span");
      const b = document.createElement("span");
      a.textContent = name;
      a.title = name; // long names are cut with an ellipsis
      b.textContent = format(count);
      li.append(a, b);
      return li;
    }));
  }

  // Visits per path as the day/hour maps counter histories hold ({daily: {day: n}, hourly:
  // {"YYYY-MM-DDTHH": n}}), for the range and the last 48 hours: the hourly arrays of
  // /stats/hits (its top 100 paths). Null when the server has no statistics API.
  async function visitHistories(ns, from, to) {
    const twoDaysAgo = isoDay(new Date(Date.now() - 2 * DAY_MS));
    const today = isoDay(new Date());
    const last = to > today ? to : today;
    const answer = await Api.stats("hits", ns, from < twoDaysAgo ? from : twoDaysAgo,
      dayAfter(last), 100);
    if (!answer) return null;
    const histories = new Map();
    for (const hit of answer.hits) {
      const history = { daily: {}, hourly: {} };
      for (const { day, hourly, daily } of hit.stats) {
        history.daily[day] = daily;
        hourly.forEach((n, h) => { if (n) history.hourly[`${day}T${String(h).padStart(2, "0")}`] = n; });
      }
      histories.set(hit.path, history);
    }
    return { histories, more: answer.more };
  }

  return { panels, render, visitHistories };
})();
