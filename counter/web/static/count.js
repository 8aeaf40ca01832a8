// count.js for counter: GoatCounter's page protocol, written for this server.
// <script data-goatcounter="https://HOST/count" async src="https://HOST/count.js"></script>
;(function () {
  'use strict'
  var gc = window.goatcounter = window.goatcounter || {}
  var SETTINGS = ['no_onload', 'no_events', 'allow_local', 'allow_frame', 'path', 'title', 'referrer', 'event']
  var script = document.querySelector('script[data-goatcounter]')
  if (script && script.dataset.goatcounterSettings) {
    try {
      var given = JSON.parse(script.dataset.goatcounterSettings)
      for (var name in given) if (SETTINGS.indexOf(name) > -1) gc[name] = given[name]
    } catch (err) { warn('data-goatcounter-settings is not JSON: ' + err) }
  }

  function warn (msg) { if (window.console && console.warn) console.warn('goatcounter: ' + msg) }
  function empty (v) { return v === null || v === undefined || typeof v === 'function' }
  function endpoint () {
    return (script && script.dataset.goatcounter) || gc.endpoint || window.counter
  }
  function current_path () {
    var loc = location, canonical = document.querySelector('link[rel="canonical"][href]')
    if (canonical) {
      var a = document.createElement('a')
      a.href = canonical.href
      if (a.hostname.replace(/^www\./, '') === location.hostname.replace(/^www\./, '')) loc = a
    }
    return (loc.pathname + loc.search) || '/'
  }
  // Signs of a scripted browser that the server cannot see (GoatCounter's numbers, 150+).
  function bot () {
    var w = window, d = document
    if (w.callPhantom || w._phantom || w.phantom) return 150
    if (w.__nightmare) return 151
    if (d.__selenium_unwrapped || d.__webdriver_evaluate || d.__driver_evaluate) return 152
    if (navigator.webdriver) return 153
    return 0
  }
  function pick (vars, name) { return vars[name] === undefined ? gc[name] : vars[name] }
  function data (vars) {
    var d = {
      p: pick(vars, 'path'), r: pick(vars, 'referrer'), t: pick(vars, 'title'),
      e: !!(vars.event || gc.event),
      s: [window.screen.width, window.screen.height, window.devicePixelRatio || 1],
      b: bot(), q: location.search
    }
    var fr = typeof d.r === 'function' && d.r, ft = typeof d.t === 'function' && d.t,
      fp = typeof d.p === 'function' && d.p
    if (empty(d.r)) d.r = document.referrer
    if (empty(d.t)) d.t = document.title
    if (empty(d.p)) d.p = current_path()
    if (fr) d.r = fr(d.r)
    if (ft) d.t = ft(d.t)
    if (fp) d.p = fp(d.p)
    return d
  }
  function query (obj) {
    var parts = []
    for (var k in obj) {
      var v = obj[k]
      if (v !== '' && v !== null && v !== undefined && v !== false) parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v))
    }
    return '?' + parts.join('&')
  }
  function on_load (f) {
    if (document.body === null) document.addEventListener('DOMContentLoaded', function () { f() }, false)
    else f()
  }

  gc.filter = function () {
    if ('visibilityState' in document && document.visibilityState === 'prerender') return 'visibilityState'
    if (!gc.allow_frame && location !== parent.location) return 'frame'
    if (!gc.allow_local && location.hostname.match(/(localhost$|^127\.|^10\.|^172\.(1[6-9]|2[0-9]|3[0-1])\.|^192\.168\.|^0\.0\.0\.0$)/)) return 'localhost'
    if (!gc.allow_local && location.protocol === 'file:') return 'localfile'
    try { if (localStorage.getItem('skipgc') === 't') return 'disabled with #toggle-goatcounter' } catch (e) {}
    return false
  }

  gc.url = function (vars) {
    var d = data(vars || {})
    if (d.p === null) return
    d.rnd = Math.random().toString(36).slice(2, 7) // some caches ignore Cache-Control
    var base = endpoint()
    if (!base) return warn('no endpoint found')
    return base + query(d)
  }

  gc.count = function (vars) {
    var why = gc.filter()
    if (why) return warn('not counting because of: ' + why)
    var url = gc.url(vars)
    if (!url) return warn('not counting because path callback returned null')
    if (navigator.sendBeacon && navigator.sendBeacon(url)) return
    // sendBeacon is missing or refused (often by a Content-Security-Policy): a 1x1 image.
    var img = document.createElement('img')
    img.src = url
    img.style.position = 'absolute'
    img.style.bottom = '0px'
    img.style.width = img.style.height = '1px'
    img.loading = 'eager'
    img.setAttribute('alt', '')
    img.setAttribute('aria-hidden', 'true')
    img.addEventListener('load', function () { if (img.parentNode) img.parentNode.removeChild(img) }, false)
    document.body.appendChild(img)
  }

  gc.get_query = function (name) {
    var pairs = location.search.slice(1).split('&')
    for (var i = 0; i < pairs.length; i++) {
      if (pairs[i].toLowerCase().indexOf(name.toLowerCase() + '=') === 0) return pairs[i].slice(name.length + 1)
    }
  }

  gc.bind_events = function () {
    if (!document.querySelectorAll) return
    var elems = document.querySelectorAll('*[data-goatcounter-click]')
    Array.prototype.forEach.call(elems, function (elem) {
      if (elem.dataset.goatcounterBound) return
      var send = function () {
        gc.count({
          event: true,
          path: elem.dataset.goatcounterClick || elem.name || elem.id || '',
          title: elem.dataset.goatcounterTitle || elem.title || (elem.innerHTML || '').slice(0, 200) || '',
          referrer: elem.dataset.goatcounterReferrer || elem.dataset.goatcounterReferral || ''
        })
      }
      elem.addEventListener('click', send, false)
      elem.addEventListener('auxclick', send, false) // the middle button
      elem.dataset.goatcounterBound = 'true'
    })
  }

  // The visitor counter: /count -> /counter/<path>.<type>, as an <img> or an <iframe>.
  gc.visit_count = function (opt) {
    on_load(function () {
      opt = opt || {}
      var type = opt.type || 'html', tag = { png: 'img', svg: 'img', html: 'iframe' }[type]
      if (!tag) return warn('visit_count: unknown type: ' + type)
      var attr = opt.attr || { width: '200', height: opt.no_branding ? '60' : '80' }
      var src = endpoint() + 'er/' + encodeURIComponent(opt.path || current_path()) + '.' + encodeURIComponent(type) + '?'
      if (opt.no_branding) src += '&no_branding=1'
      if (opt.style) src += '&style=' + encodeURIComponent(opt.style)
      if (opt.start) src += '&start=' + encodeURIComponent(opt.start)
      if (opt.end) src += '&end=' + encodeURIComponent(opt.end)
      attr.src = src
      if (type === 'html') { attr.frameborder = '0'; attr.scrolling = 'no' }
      var el = document.createElement(tag)
      for (var k in attr) el.setAttribute(k, attr[k])
      var parent = document.querySelector(opt.append || 'body')
      if (!parent) return warn('visit_count: append not found: ' + opt.append)
      parent.appendChild(el)
    })
  }

  if (location.hash === '#toggle-goatcounter') {
    var skipping = localStorage.getItem('skipgc') === 't'
    if (skipping) localStorage.removeItem('skipgc')
    else localStorage.setItem('skipgc', 't')
    alert('GoatCounter tracking is now ' + (skipping ? 'ENABLED' : 'DISABLED') + ' in this browser.')
  }

  if (!gc.no_onload) {
    on_load(function () {
      // A page opened in the background counts once it is first shown.
      if (!('visibilityState' in document) || document.visibilityState === 'visible') gc.count()
      else {
        var shown = function () {
          if (document.visibilityState !== 'visible') return
          document.removeEventListener('visibilitychange', shown)
          gc.count()
        }
        document.addEventListener('visibilitychange', shown)
      }
      if (!gc.no_events) gc.bind_events()
    })
  }
})()
