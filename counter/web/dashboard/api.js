// The dashboard's client for /api/v0: the token (this tab's sessionStorage only), JSON with
// exact 64-bit integers, and feature detection of routes other versions may lack.
"use strict";

const Api = (() => {
  const TOKEN_KEY = "counter-dashboard-token";
  // The page is served at <mount>/dashboard/: the API lives beside it.
  const ROOT = location.pathname.replace(/\/dashboard(\/.*)?$/, "");

  // Counters are signed 64-bit: beyond 2^53 a plain JSON.parse would round them. Chromium,
  // Firefox and Safari hand the reviver the number's source text; keep big ones as BigInt.
  function parse(text) {
    return JSON.parse(text, (key, value, context) => {
      if (typeof value === "number" && !Number.isSafeInteger(value) && context &&
          /^-?\d+$/.test(context.source)) {
        return BigInt(context.source);
      }
      return value;
    });
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }
  function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
  function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

  async function request(method, path, body) {
    const headers = { Authorization: `Bearer ${token()}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      // BigInt has no JSON form: write it as the bare integer it is.
      init.body = JSON.stringify(body, (k, v) => (typeof v === "bigint" ? `@@${v}@@` : v))
        .replace(/"@@(-?\d+)@@"/g, "$1");
    }
    const response = await fetch(`${ROOT}/api/v0${path}`, init);
    const text = await response.text();
    const data = text ? parse(text) : null;
    if (!response.ok) {
      const message = data && (data.error ||
        Object.entries(data.errors || {}).map(([f, m]) => `${f}: ${m.join(", ")}`).join("; "));
      throw new ApiError(response.status, message || `HTTP ${response.status}`);
    }
    return data;
  }

  const q = (params) => new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
  const one = (ns, key) => `/counters/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`;

  return {
    ApiError, token, setToken, clearToken, root: ROOT,
    me: () => request("GET", "/me"),
    async counters(namespace, max = 5000) {
      const all = [];
      let after = "";
      for (;;) {
        const page = await request("GET", `/counters?${q({ namespace, after, limit: 500 })}`);
        all.push(...page.counters);
        if (!page.more || all.length >= max) return { counters: all, truncated: page.more };
        after = page.counters[page.counters.length - 1].key;
      }
    },
    counter: (ns, key) => request("GET", one(ns, key)),
    put: (ns, key, value) => request("PUT", one(ns, key), { value }),
    reset: (ns, key) => request("POST", `${one(ns, key)}/reset`),
    remove: (ns, key) => request("DELETE", one(ns, key)),
    // The GoatCounter-style statistics (issue 10); null when this server has none.
    async stats(page, namespace, start, end, limit = 8) {
      try {
        return await request("GET", `/stats/${page}?${q({ site: namespace, start, end, limit })}`);
      } catch (error) {
        if (error.status === 404 || error.status === 403) return null;
        throw error;
      }
    },
  };
})();
