/*! octeth_tracking tracker.js: page views, events, conversions and identify, from a web page into one list.
 * The snippet (README, "Browser tracker") sets window.octethTracker = {key, listId, api, q} and queues calls in q
 * until this file has loaded; then octethTracker.eventP/eventI/eventT/eventC send at once.
 */
(function (window, document) {
  "use strict";
  var VERSION = "0.1.0";
  var navigator = window.navigator, location = window.location;
  var tracker = window.octethTracker;
  if (!tracker || tracker.loaded || !tracker.key || !tracker.api || !window.fetch || !window.crypto) return;
  tracker.loaded = true;

  var options = {
    visitorCookie: "octeth_id", // the name of the first-party visitor id (a cookie, or a localStorage key)
    visitorDays: 365, // how long it lives
    visitorStorage: "cookie", // or "localStorage"
    cookieDomain: "", // e.g. "example.com" to share the id between subdomains
    respectPrivacy: false, // true: send nothing from a browser that asks for Do Not Track or Global Privacy Control
    autoPageView: true, // a pageView as soon as the script loads
    queueSize: 100, // events kept for retries, across page loads; the oldest go first
    maxTries: 10 // attempts before an event is given up
  };
  for (var name in options) if (tracker[name] !== undefined) options[name] = tracker[name];
  // The key goes in the query string: every answer, even to a body the server cannot read, is then one
  // this page may read, and a beacon (which cannot set headers) carries it too.
  var endpoint = String(tracker.api).replace(/\/+$/, "") + "/event?TrackerKey=" + encodeURIComponent(tracker.key);
  var calls = tracker.q || [];
  tracker.q = [];

  function noop() {}
  if (options.respectPrivacy && (navigator.doNotTrack === "1" || window.doNotTrack === "1" ||
                                 navigator.globalPrivacyControl === true)) {
    tracker.eventP = tracker.eventI = tracker.eventT = tracker.eventC = noop;
    return;
  }

  // -- storage that may be missing or full (private windows, blocked cookies): then memory only --
  function localGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function localSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* memory only */ }
  }

  // -- ids: UUIDs from crypto.getRandomValues (randomUUID needs a secure context) --
  function format(bytes) {
    var text = "";
    for (var i = 0; i < 16; i++) {
      text += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16) + (i === 3 || i === 5 || i === 7 || i === 9 ? "-" : "");
    }
    return text;
  }
  function random16() {
    return window.crypto.getRandomValues(new Uint8Array(16));
  }
  function uuid4() {
    var bytes = random16();
    bytes[6] = bytes[6] & 0x0f | 0x40;
    bytes[8] = bytes[8] & 0x3f | 0x80;
    return format(bytes);
  }
  var lastTime = 0, counter = 0;
  function uuid7() {
    // RFC 9562: 48 bits of Unix milliseconds, then a 12-bit counter, so that ids made in one millisecond
    // still sort in order; and so a list's uuid index only ever grows at its end.
    var bytes = random16(), now = Date.now();
    if (now > lastTime) {
      lastTime = now;
      counter = bytes[7] & 0x1ff; // a random start, with room to count
    } else if (++counter > 0xfff) {
      lastTime++;
      counter = 0;
    }
    for (var i = 5, time = lastTime; i >= 0; i--, time = Math.floor(time / 256)) bytes[i] = time % 256;
    bytes[6] = 0x70 | counter >> 8;
    bytes[7] = counter & 0xff;
    bytes[8] = bytes[8] & 0x3f | 0x80;
    return format(bytes);
  }

  // -- the visitor: a first-party id, kept across visits and after eventI --
  function readCookie(key) {
    var found = document.cookie.match("(?:^|; )" + key.replace(/[^\w-]/g, "\\$&") + "=([^;]*)");
    return found && decodeURIComponent(found[1]);
  }
  function visitorId() {
    var key = options.visitorCookie, lifetime = options.visitorDays * 86400, id;
    if (options.visitorStorage === "cookie") {
      id = readCookie(key) || uuid4();
      document.cookie = key + "=" + encodeURIComponent(id) + "; Max-Age=" + Math.round(lifetime) + "; Path=/; SameSite=Lax" +
        (options.cookieDomain ? "; Domain=" + options.cookieDomain : "") + (location.protocol === "https:" ? "; Secure" : "");
      if (readCookie(key) === id) return id; // else cookies are blocked: localStorage instead
    }
    var stored = (localGet(key) || "").split("|"); // "id|expiry in ms"
    id = +stored[1] > Date.now() ? stored[0] : id || uuid4();
    localSet(key, id + "|" + (Date.now() + lifetime * 1000));
    return id;
  }
  var visitor = tracker.visitorId = visitorId();

  // -- the automatic properties, with the names Octeth's own tracker sends --
  function parseAgent(agent) {
    var browsers = [["Edge", /Edg(?:e|A|iOS)?\/([\d.]+)/], ["Opera", /(?:OPR|Opera)\/([\d.]+)/],
      ["Samsung Internet", /SamsungBrowser\/([\d.]+)/], ["Firefox", /(?:Firefox|FxiOS)\/([\d.]+)/],
      ["Chrome", /(?:Chrome|CriOS)\/([\d.]+)/], ["Safari", /Version\/([\d.]+).*Safari\//]];
    var systems = [["Windows", /Windows/], ["Chrome OS", /CrOS/], ["Android", /Android/], ["iOS", /iPhone|iPad|iPod/],
      ["Mac OS X", /Macintosh/], ["Linux", /Linux/]];
    var found = {browser: "Other", version: "", os: "Other"}, i, match;
    for (i = 0; i < browsers.length && !match; i++) {
      match = agent.match(browsers[i][1]);
      if (match) found = {browser: browsers[i][0], version: match[1], os: "Other"};
    }
    for (i = 0; i < systems.length && found.os === "Other"; i++) if (systems[i][1].test(agent)) found.os = systems[i][0];
    var iPad = /iPad/.test(agent) || /Macintosh/.test(agent) && navigator.maxTouchPoints > 1; // iPadOS asks for desktop pages
    if (iPad) found.os = "iOS";
    found.type = iPad || /Tablet/.test(agent) || /Android/.test(agent) && !/Mobile/.test(agent) ? "tablet" :
      /Mobi|iPhone|iPod/.test(agent) ? "mobile" : "desktop";
    found.device = iPad ? "iPad" : (agent.match(/iPhone|iPod|Android/) || [found.type === "desktop" ? "Desktop" : "Other"])[0];
    return found;
  }
  var agent = parseAgent(navigator.userAgent || "");
  function clip(text) {
    return String(text).slice(0, 8192); // the server's default limit on a string
  }
  function automatic(uuid) {
    var referrer = document.referrer, referringDomain = "";
    try { referringDomain = referrer && new URL(referrer).hostname; } catch (e) { /* not a URL */ }
    return {
      $browser: agent.browser, $browser_version: agent.version, $browser_language: navigator.language || "",
      $os: agent.os, $device: agent.device, $device_type: agent.type,
      $current_url: clip(location.href), $host: location.host, $pathname: clip(location.pathname),
      $page_title: clip(document.title), $referrer: clip(referrer), $referring_domain: referringDomain,
      $screen_width: window.screen.width, $screen_height: window.screen.height,
      $viewport_width: window.innerWidth, $viewport_height: window.innerHeight,
      $lib: "octeth-tracker.js", $lib_version: VERSION, $list_id: tracker.listId, $uuid: uuid, $id: visitor
    };
  }
  function merge(into) {
    for (var i = 1; i < arguments.length; i++) {
      for (var key in arguments[i] || {}) if (Object.prototype.hasOwnProperty.call(arguments[i], key)) into[key] = arguments[i][key];
    }
    return into;
  }

  // -- the queue: every event waits in localStorage until the server has answered it --
  var storageKey = "octeth_tracker_queue:" + tracker.key;
  var queue = load(), sending = {}, settled = {}, timer = 0;
  function load() {
    try {
      var stored = JSON.parse(localGet(storageKey) || "[]");
      return stored instanceof Array ? stored : [];
    } catch (e) {
      return [];
    }
  }
  function bound(entries) {
    entries.sort(function (a, b) { return a.body.UUID < b.body.UUID ? -1 : 1; }); // UUIDv7: oldest first
    return entries.slice(-options.queueSize);
  }
  function save() {
    // Keep what other tabs stored meanwhile, less what this one saw answered.
    var mine = {}, entries = queue.slice();
    queue.forEach(function (entry) { mine[entry.body.UUID] = 1; });
    load().forEach(function (entry) {
      if (entry && entry.body && !mine[entry.body.UUID] && !settled[entry.body.UUID]) entries.push(entry);
    });
    localSet(storageKey, JSON.stringify(bound(entries)));
  }
  function track(event, properties, parameters) {
    var uuid = uuid7();
    var body = merge({ListID: tracker.listId, ID: visitor, UUID: uuid, Event: event,
                      Properties: merge(automatic(uuid), properties)}, parameters);
    queue = bound(queue.concat([{body: body, tries: 0, due: 0}]));
    save();
    flush();
    return uuid;
  }

  // -- sending: one POST /event per event (text/plain: no preflight), retried with back-off --
  function flush() {
    clearTimeout(timer);
    var now = Date.now(), wait = Infinity;
    queue.forEach(function (entry) {
      if (sending[entry.body.UUID]) return;
      if (entry.due > now) wait = Math.min(wait, entry.due - now);
      else send(entry);
    });
    timer = wait < Infinity ? setTimeout(flush, wait) : 0;
  }
  function attempt(entry) {
    entry.tries++;
    entry.body.Properties.$sent_at = new Date().toISOString();
    return JSON.stringify(entry.body);
  }
  function send(entry) {
    sending[entry.body.UUID] = true;
    var body = attempt(entry);
    save();
    window.fetch(endpoint, {method: "POST", body: body, keepalive: true, credentials: "omit", mode: "cors"}).then(
      function (response) { settle(entry, response.status, response.headers.get("Retry-After")); },
      function () { settle(entry, 0, null); } // offline, blocked, or an answer this page may not read
    );
  }
  function settle(entry, status, retryAfter) {
    var uuid = entry.body.UUID;
    delete sending[uuid];
    if ((status === 0 || status === 408 || status === 429 || status >= 500) && entry.tries < options.maxTries) {
      var delay = Math.min(60000, 1000 * Math.pow(2, entry.tries - 1));
      entry.due = Date.now() + (+retryAfter > 0 ? retryAfter * 1000 : delay / 2 + Math.random() * delay / 2);
    } else {
      if (status !== 200 && window.console) console.warn("octeth tracker: event " + uuid + " not stored (HTTP " + status + ")");
      settled[uuid] = 1;
      queue = queue.filter(function (other) { return other !== entry; });
    }
    save();
    flush();
  }
  window.addEventListener("online", function () {
    queue.forEach(function (entry) { entry.due = 0; });
    flush();
  });
  window.addEventListener("pagehide", function () {
    // The page goes: a beacon for each event not yet on its way. Its answer cannot be read, so the event
    // stays queued; the next page sends it again, and its UUID makes the server store it once.
    queue.forEach(function (entry) {
      if (!sending[entry.body.UUID] && navigator.sendBeacon) navigator.sendBeacon(endpoint, attempt(entry));
    });
    save();
  });

  // -- Octeth's browser API --
  tracker.eventP = function (url, properties) {
    return track("pageView", merge({url: url || location.href}, properties));
  };
  tracker.eventI = function (emailOrSha256, properties, identifyProperties) {
    // An email hash (sha256 of the trimmed address) names the subscriber as the ID, as Octeth reads it.
    var who = String(emailOrSha256), hash = /^[0-9a-fA-F]{64}$/.test(who);
    return track("identify", merge({}, properties),
                 merge(hash ? {ID: who} : {Email: who}, identifyProperties ? {IdentifyProperties: identifyProperties} : {}));
  };
  tracker.eventT = function (name, properties) {
    return track(String(name), merge({}, properties));
  };
  tracker.eventC = function (conversionId, conversionName, conversionValue, properties) {
    return track("conversion", merge({}, properties,
      {"conversion-id": conversionId, "conversion-name": conversionName, "conversion-value": conversionValue}));
  };
  if (options.autoPageView) tracker.eventP();
  calls.forEach(function (call) { tracker[call[0]].apply(tracker, call[1]); });
  flush();
})(window, document);
