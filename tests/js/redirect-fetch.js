// Loaded with `mocha --require`: points the unmodified countapi-js 1.0.2 at COUNTER_BASE_URL.
// countapi-js hard-codes https://api.countapi.xyz and calls the fetch exported by cross-fetch;
// we replace that module's export (in Node's module cache, before countapi-js loads it) with a
// fetch that rewrites the base URL. Nothing inside node_modules/countapi-js is edited.
'use strict';
const path = require('path');

const COUNTAPI_BASE = 'https://api.countapi.xyz';
const base = process.env.COUNTER_BASE_URL;
if (!base) {
  throw new Error('COUNTER_BASE_URL is not set');
}

const countapiDir = path.dirname(require.resolve('countapi-js/package.json'));
const crossFetchPath = require.resolve('cross-fetch', { paths: [countapiDir] });
const realFetch = require(crossFetchPath);

// Headers a browser would add (Origin, Referer); tests set them to act like a web page.
const browserHeaders = {};

function redirectedFetch(url, options) {
  if (!url.startsWith(COUNTAPI_BASE)) {
    return Promise.reject(new Error(`unexpected URL ${url}`));
  }
  const headers = Object.assign({}, browserHeaders, options && options.headers);
  return realFetch(base + url.slice(COUNTAPI_BASE.length), Object.assign({}, options, { headers }));
}

require.cache[crossFetchPath].exports = redirectedFetch;

module.exports = { browserHeaders };
