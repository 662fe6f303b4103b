'use strict';
// loader.js: runs a mini-program's own files in Node.js, unchanged.
//
// Each file is wrapped in a function whose parameters are WeChat's globals
// (wx, App, Page, getApp, getCurrentPages), the way WeChat's runtime wraps
// them, and run in this realm (so values compare like Node's own). require
// follows WeChat's rules: paths relative to the file or to the project
// root, ".js" optional, no node_modules.

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const GLOBALS = ['wx', 'App', 'Page', 'Component', 'Behavior', 'getApp', 'getCurrentPages'];

// loadMiniProgram loads app.json and app.js from root with the given wx
// object and returns the running program: its App instance, its page stack
// and open(route) to launch a page. Navigation calls of the shim (h) move
// the page stack.
function loadMiniProgram(root, wx, h) {
  root = path.resolve(root);
  const appJson = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'));
  const cache = new Map();
  const stack = [];
  const pageDefs = new Map();
  let appInstance = null;
  let loadingRoute = null;

  const globals = {
    wx,
    App(options) {
      if (appInstance) {
        throw new Error('App() called twice');
      }
      appInstance = Object.assign({}, options);
    },
    Page(options) {
      if (!loadingRoute) {
        throw new Error('Page() called outside a page file');
      }
      pageDefs.set(loadingRoute, options);
    },
    Component() {
      throw new Error('Component() is not supported by this harness');
    },
    Behavior() {
      throw new Error('Behavior() is not supported by this harness');
    },
    getApp() {
      return appInstance;
    },
    getCurrentPages() {
      return stack.slice();
    }
  };

  function requireFrom(dir) {
    return function require(spec) {
      let file = spec.startsWith('/') ? path.join(root, spec) : path.resolve(dir, spec);
      if (!file.endsWith('.js')) {
        file += '.js';
      }
      if (!file.startsWith(root + path.sep)) {
        throw new Error('require outside the mini-program: ' + spec);
      }
      return load(file);
    };
  }

  function load(file) {
    if (cache.has(file)) {
      return cache.get(file).exports;
    }
    const module = { exports: {} };
    cache.set(file, module);
    const src = fs.readFileSync(file, 'utf8');
    const wrapper = '(function (exports, require, module, __filename, __dirname, ' + GLOBALS.join(', ') + ') {' + src + '\n})';
    const fn = vm.runInThisContext(wrapper, { filename: file });
    fn.call(module.exports, module.exports, requireFrom(path.dirname(file)), module, file, path.dirname(file),
      ...GLOBALS.map((g) => globals[g]));
    return module.exports;
  }

  function pageOptions(route) {
    if (!appJson.pages.includes(route)) {
      throw new Error('page not in app.json: ' + route);
    }
    if (!pageDefs.has(route)) {
      loadingRoute = route;
      try {
        load(path.join(root, route + '.js'));
      } finally {
        loadingRoute = null;
      }
      if (!pageDefs.has(route)) {
        throw new Error(route + '.js did not call Page()');
      }
    }
    return pageDefs.get(route);
  }

  function instantiate(route, query) {
    const options = pageOptions(route);
    const page = { route, options: query };
    for (const [k, v] of Object.entries(options)) {
      page[k] = k === 'data' ? structuredClone(v) : v;
    }
    if (!page.data) {
      page.data = {};
    }
    page.setData = function (patch, cb) {
      for (const [k, v] of Object.entries(patch)) {
        setPath(page.data, k, v === undefined ? v : structuredClone(v));
      }
      if (cb) {
        setImmediate(cb);
      }
    };
    return page;
  }

  async function call(page, hook, arg) {
    if (page && typeof page[hook] === 'function') {
      return page[hook](arg);
    }
    return undefined;
  }

  // open launches a page as the first one (like a cold start on that page).
  async function open(route, query = {}) {
    while (stack.length) {
      await call(stack.pop(), 'onUnload');
    }
    return push(route, query);
  }

  async function push(route, query) {
    const top = stack[stack.length - 1];
    if (top) {
      await call(top, 'onHide');
    }
    const page = instantiate(route, query);
    stack.push(page);
    await call(page, 'onLoad', query);
    await call(page, 'onShow');
    await call(page, 'onReady');
    return page;
  }

  h.onNavigate = async (api, opts) => {
    if (api === 'navigateBack') {
      const delta = Math.max(1, opts.delta || 1);
      for (let i = 0; i < delta && stack.length > 1; i++) {
        await call(stack.pop(), 'onUnload');
      }
      await call(stack[stack.length - 1], 'onShow');
      return;
    }
    const [pathPart, queryPart] = String(opts.url || '').split('?');
    const route = pathPart.replace(/^\//, '');
    const query = Object.fromEntries(new URLSearchParams(queryPart || ''));
    if (api === 'navigateTo') {
      if (stack.length >= 10) {
        throw new Error('webview count limit exceed');
      }
      await push(route, query);
    } else if (api === 'redirectTo') {
      await call(stack.pop(), 'onUnload');
      await push(route, query);
    } else {
      await open(route, query);
    }
  };

  load(path.join(root, 'app.js'));
  if (!appInstance) {
    throw new Error('app.js did not call App()');
  }

  return {
    app: appInstance,
    appJson,
    stack,
    open,
    top: () => stack[stack.length - 1],
    // require loads one of the program's modules (path from its root), the
    // same instance its pages use.
    require: (spec) => requireFrom(root)(spec.startsWith('/') ? spec : '/' + spec),
    launch: async () => {
      await call(appInstance, 'onLaunch', { path: appJson.pages[0], query: {} });
      await call(appInstance, 'onShow');
    }
  };
}

// setPath sets obj at a setData key path like "userInfo.mobile" or "list[2].name".
function setPath(obj, key, value) {
  const parts = [];
  key.replace(/[^.[\]]+|\[(\d+)\]/g, (m, idx) => {
    parts.push(idx !== undefined ? Number(idx) : m);
    return m;
  });
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur[parts[i]] === null || typeof cur[parts[i]] !== 'object') {
      cur[parts[i]] = typeof parts[i + 1] === 'number' ? [] : {};
    }
    cur = cur[parts[i]];
  }
  cur[parts[parts.length - 1]] = value;
}

// wxmlHandlers lists the event handler names a WXML file binds
// (bindtap="x", catch:tap="x", bindgetphonenumber="x", ...).
function wxmlHandlers(src) {
  const names = new Set();
  const re = /\b(?:bind|catch|capture-bind|capture-catch|mut-bind):?[a-z]+\s*=\s*"([^"{}]+)"/g;
  let m;
  while ((m = re.exec(src)) !== null) {
    names.add(m[1].trim());
  }
  return [...names];
}

module.exports = { loadMiniProgram, setPath, wxmlHandlers };
