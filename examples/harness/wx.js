'use strict';
// wx.js: a `wx` object for Node.js that behaves like WeChat's client APIs
// closely enough to run a mini-program's own code unchanged.
//
// Network calls are real (fetch): wx.request and wx.uploadFile call
// success for every HTTP status with res.statusCode (the body parsed as
// JSON for wx.request, a string for wx.uploadFile, as WeChat does) and fail
// only on network errors and timeouts, with errMsg "request:fail ...".
// wx.login mints a real code from an `oactl mockwx` for the current user.
// Storage is in memory; navigation, toasts and modals are recorded.

const fs = require('node:fs/promises');
const path = require('node:path');

const DEFAULT_TIMEOUT_MS = 60000; // WeChat's default for request and uploadFile

// createWx returns {wx, h}: the `wx` object to hand to the mini-program and
// the harness's handle on it (records, routes, the current user).
//
// options.mockwx: base URL of an oactl mockwx (for wx.login);
// options.user: the WeChat user wx.login logs in as;
// options.appid: the mini-program's appid: passed to /__mock/login, and
//   every wx.request and wx.uploadFile carries the Referer WeChat sets,
//   https://servicewechat.com/{appid}/{version}/page-frame.html, which is
//   how the server knows the app (none when appid is empty);
// options.version: the {version} of that Referer (default "0": the
//   developer tools and trial versions);
// options.routes: {origin: origin} rewrites applied to every URL, so the
//   example's config/api.js (which names 127.0.0.1:8080) reaches the
//   server a test started on a free port, the way a hosts entry would.
function createWx(options = {}) {
  const h = {
    mockwx: options.mockwx || '',
    user: options.user || 'alice',
    appid: options.appid || '',
    version: options.version || '0',
    routes: {},
    storage: new Map(),
    navigations: [],
    toasts: [],
    modals: [],
    requests: [],
    codes: [],
    modalConfirm: true,
    sessionAlive: false,
    replayCode: '', // when set, wx.login hands out this code again (a reused code)
    onNavigate: null, // set by the loader to move its page stack

    route(from, to) {
      h.routes[stripSlash(from)] = stripSlash(to);
    },
    resolve(url) {
      for (const [from, to] of Object.entries(h.routes)) {
        if (url === from || url.startsWith(from + '/') || url.startsWith(from + '?')) {
          return to + url.slice(from.length);
        }
      }
      return url;
    },
    expireSession() {
      h.sessionAlive = false;
    },
    lastNavigation() {
      return h.navigations[h.navigations.length - 1];
    },
    // withReferer returns header plus WeChat's Referer (the page may not
    // set its own: WeChat overrides it).
    withReferer(header) {
      const out = {};
      for (const [k, v] of Object.entries(header)) {
        if (k.toLowerCase() !== 'referer') {
          out[k] = v;
        }
      }
      if (h.appid) {
        out.Referer = 'https://servicewechat.com/' + h.appid + '/' + h.version + '/page-frame.html';
      }
      return out;
    }
  };

  for (const [from, to] of Object.entries(options.routes || {})) {
    h.route(from, to);
  }

  const wx = {
    // --- network ---
    request(opts) {
      const method = String(opts.method || 'GET').toUpperCase();
      const header = h.withReferer(opts.header || {});
      const contentType = headerValue(header, 'content-type') || 'application/json';
      let url = h.resolve(opts.url);
      let body;
      const data = opts.data;
      if (method === 'GET' || method === 'HEAD') {
        if (data && typeof data === 'object' && Object.keys(data).length > 0) {
          url += (url.includes('?') ? '&' : '?') + new URLSearchParams(stringValues(data)).toString();
        } else if (typeof data === 'string' && data !== '') {
          url += (url.includes('?') ? '&' : '?') + data;
        }
      } else if (data !== undefined) {
        if (typeof data === 'string' || data instanceof ArrayBuffer) {
          body = data;
        } else if (contentType.includes('application/x-www-form-urlencoded')) {
          body = new URLSearchParams(stringValues(data)).toString();
        } else {
          body = JSON.stringify(data);
        }
      }
      if (!headerValue(header, 'content-type')) {
        header['Content-Type'] = contentType;
      }
      h.requests.push({ method, url, header });
      return transfer('request', opts, url, { method, headers: header, body }, async (res) => {
        const text = await res.text();
        let parsed = text;
        if ((opts.dataType || 'json') === 'json') {
          try {
            parsed = JSON.parse(text);
          } catch (e) {
            parsed = text;
          }
        }
        return { data: parsed, statusCode: res.status, header: headersObject(res.headers), errMsg: 'request:ok' };
      });
    },

    uploadFile(opts) {
      const url = h.resolve(opts.url);
      const header = h.withReferer(opts.header || {});
      h.requests.push({ method: 'POST', url, header, upload: true });
      const run = async () => {
        const bytes = await fs.readFile(opts.filePath);
        const form = new FormData();
        for (const [k, v] of Object.entries(opts.formData || {})) {
          form.append(k, String(v));
        }
        form.append(opts.name, new Blob([bytes]), path.basename(opts.filePath));
        return { method: 'POST', headers: header, body: form };
      };
      return transfer('uploadFile', opts, url, run, async (res) => {
        // WeChat hands uploadFile's body to the page as a string.
        return { data: await res.text(), statusCode: res.status, header: headersObject(res.headers), errMsg: 'uploadFile:ok' };
      });
    },

    // --- login ---
    login(opts = {}) {
      return callback('login', opts, async () => {
        let code = h.replayCode;
        if (!code) {
          if (!h.mockwx) {
            throw new Error('no mockwx configured');
          }
          const body = { user: h.user };
          if (h.appid) {
            body.appid = h.appid;
          }
          const res = await fetch(stripSlash(h.mockwx) + '/__mock/login', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(opts.timeout || 10000)
          });
          if (res.status !== 200) {
            throw new Error('mockwx answered HTTP ' + res.status);
          }
          code = (await res.json()).code;
        }
        h.codes.push(code);
        h.sessionAlive = true;
        return { code };
      });
    },

    checkSession(opts = {}) {
      return callback('checkSession', opts, async () => {
        if (!h.sessionAlive) {
          throw new Error('session time out, need relogin');
        }
        return {};
      });
    },

    // --- storage (in memory; values are copied as WeChat serialises them) ---
    setStorageSync(key, value) {
      h.storage.set(String(key), value === undefined ? undefined : structuredClone(value));
    },
    getStorageSync(key) {
      if (!h.storage.has(String(key))) {
        return '';
      }
      const v = h.storage.get(String(key));
      return v === undefined ? '' : structuredClone(v);
    },
    removeStorageSync(key) {
      h.storage.delete(String(key));
    },
    clearStorageSync() {
      h.storage.clear();
    },
    getStorageInfoSync() {
      return { keys: [...h.storage.keys()], currentSize: 0, limitSize: 10240 };
    },

    // --- navigation (recorded; the loader moves its page stack) ---
    navigateTo(opts = {}) {
      return navigate('navigateTo', opts);
    },
    redirectTo(opts = {}) {
      return navigate('redirectTo', opts);
    },
    switchTab(opts = {}) {
      return navigate('switchTab', opts);
    },
    reLaunch(opts = {}) {
      return navigate('reLaunch', opts);
    },
    navigateBack(opts = {}) {
      return navigate('navigateBack', Object.assign({ delta: 1 }, opts));
    },

    // --- interaction (recorded) ---
    showToast(opts = {}) {
      h.toasts.push({ title: opts.title, icon: opts.icon || 'success' });
      return callback('showToast', opts, async () => ({}));
    },
    showModal(opts = {}) {
      h.modals.push({ title: opts.title, content: opts.content });
      return callback('showModal', opts, async () => ({ confirm: h.modalConfirm, cancel: !h.modalConfirm }));
    },
    showLoading(opts = {}) {
      return callback('showLoading', opts, async () => ({}));
    },
    hideLoading(opts = {}) {
      return callback('hideLoading', opts, async () => ({}));
    },
    stopPullDownRefresh(opts = {}) {
      return callback('stopPullDownRefresh', opts, async () => ({}));
    }
  };

  function navigate(api, opts) {
    h.navigations.push({ api, url: opts.url, delta: opts.delta });
    return callback(api, opts, async () => {
      if (h.onNavigate) {
        await h.onNavigate(api, opts);
      }
      return {};
    });
  }

  return { wx, h };
}

// callback runs an async operation with WeChat's callback conventions:
// success/fail/complete when any is given, else a promise (as newer base
// libraries do). Callbacks run outside the operation's promise so an
// exception in a callback is not mistaken for a failure of the call.
function callback(api, opts, op) {
  const hasCallbacks = opts && (opts.success || opts.fail || opts.complete);
  const p = op().then(
    (res) => Object.assign({ errMsg: api + ':ok' }, res),
    (err) => Promise.reject({ errMsg: api + ':fail ' + (err && err.message ? err.message : String(err)) })
  );
  if (!hasCallbacks) {
    return p;
  }
  p.then(
    (res) => setImmediate(() => {
      if (opts.success) opts.success(res);
      if (opts.complete) opts.complete(res);
    }),
    (err) => setImmediate(() => {
      if (opts.fail) opts.fail(err);
      if (opts.complete) opts.complete(err);
    })
  );
  return undefined;
}

// transfer performs one HTTP exchange for wx.request / wx.uploadFile with
// WeChat's semantics and returns a task with abort(). The timeout covers
// the whole exchange, body included.
function transfer(api, opts, url, init, toResult) {
  const controller = new AbortController();
  let timedOut = false;
  let aborted = false;
  const timeout = opts.timeout > 0 ? opts.timeout : DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeout);
  const run = async () => {
    const resolvedInit = typeof init === 'function' ? await init() : init;
    const res = await fetch(url, Object.assign({}, resolvedInit, { signal: controller.signal }));
    return toResult(res);
  };
  run().then(
    (res) => {
      clearTimeout(timer);
      setImmediate(() => {
        if (opts.success) opts.success(res);
        if (opts.complete) opts.complete(res);
      });
    },
    (err) => {
      clearTimeout(timer);
      let reason;
      if (timedOut) {
        reason = 'timeout';
      } else if (aborted) {
        reason = 'abort';
      } else {
        reason = (err && err.cause && err.cause.code) || (err && err.message) || String(err);
      }
      const res = { errMsg: api + ':fail ' + reason };
      setImmediate(() => {
        if (opts.fail) opts.fail(res);
        if (opts.complete) opts.complete(res);
      });
    }
  );
  return {
    abort() {
      aborted = true;
      controller.abort();
    }
  };
}

function headerValue(header, name) {
  for (const [k, v] of Object.entries(header)) {
    if (k.toLowerCase() === name) {
      return String(v);
    }
  }
  return '';
}

function headersObject(headers) {
  const out = {};
  headers.forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

function stringValues(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  }
  return out;
}

function stripSlash(s) {
  return String(s).replace(/\/+$/, '');
}

module.exports = { createWx };
