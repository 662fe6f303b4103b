'use strict';
// The wx shim and the loader, against a tiny Node HTTP server (no oactl).

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createWx } = require('../wx.js');
const { loadMiniProgram, setPath, wxmlHandlers } = require('../loader.js');
const { tinyPNG } = require('../png.js');
const { freePort } = require('../oactl.js');

const EXAMPLE = path.resolve(__dirname, '..', '..', 'miniprogram');

// server starts a loopback HTTP server that records requests and answers
// with handler(req, body, res).
async function server(handler) {
  const seen = [];
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, body, res);
    });
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: 'http://127.0.0.1:' + srv.address().port,
    seen,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      srv.close(r);
    })
  };
}

function call(fn, opts) {
  return new Promise((resolve) => {
    fn(Object.assign({}, opts, {
      success: (res) => resolve({ ok: true, res }),
      fail: (res) => resolve({ ok: false, res })
    }));
  });
}

function json(res, status, obj) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(obj));
}

test('wx.request calls success for every HTTP status, with parsed JSON', async (t) => {
  const srv = await server((req, body, res) => {
    if (req.url.startsWith('/ok')) json(res, 200, { errno: 0, data: { q: req.url } });
    else if (req.url.startsWith('/missing')) json(res, 404, { errno: 404, errmsg: 'not found' });
    else if (req.url.startsWith('/text')) { res.writeHead(500); res.end('oops'); }
    else json(res, 200, { echo: JSON.parse(body.toString() || 'null') });
  });
  t.after(() => srv.close());
  const { wx } = createWx();

  let r = await call(wx.request, { url: srv.url + '/ok', data: { a: 1, b: 'x y' } });
  assert.equal(r.ok, true);
  assert.equal(r.res.statusCode, 200);
  assert.equal(r.res.errMsg, 'request:ok');
  assert.deepEqual(r.res.data, { errno: 0, data: { q: '/ok?a=1&b=x+y' } });

  r = await call(wx.request, { url: srv.url + '/missing' });
  assert.equal(r.ok, true, 'a 404 is a success in WeChat');
  assert.equal(r.res.statusCode, 404);
  assert.equal(r.res.data.errno, 404);

  r = await call(wx.request, { url: srv.url + '/text' });
  assert.equal(r.ok, true);
  assert.equal(r.res.statusCode, 500);
  assert.equal(r.res.data, 'oops', 'a body that is not JSON stays a string');

  r = await call(wx.request, {
    url: srv.url + '/echo', method: 'POST', data: { nickname: '😀测试' },
    header: { 'Content-Type': 'application/json', 'X-OA-Token': 'tok' }
  });
  assert.deepEqual(r.res.data, { echo: { nickname: '😀测试' } });
  const last = srv.seen[srv.seen.length - 1];
  assert.equal(last.method, 'POST');
  assert.equal(last.headers['x-oa-token'], 'tok');
  assert.match(last.headers['content-type'], /application\/json/);
});

test('wx.request fails on a refused connection with request:fail', async () => {
  const port = await freePort();
  const { wx } = createWx();
  const r = await call(wx.request, { url: 'http://127.0.0.1:' + port + '/x', timeout: 6000 });
  assert.equal(r.ok, false);
  assert.match(r.res.errMsg, /^request:fail /);
});

test('wx.request honours timeout against a server that never answers', async (t) => {
  const srv = await server(() => { /* never answers */ });
  t.after(() => srv.close());
  const { wx } = createWx();
  const started = Date.now();
  const r = await call(wx.request, { url: srv.url + '/hang', timeout: 300 });
  const took = Date.now() - started;
  assert.equal(r.ok, false);
  assert.equal(r.res.errMsg, 'request:fail timeout');
  assert.ok(took >= 290, 'not before the timeout: ' + took + 'ms');
});

test('wx.request task abort fails the request', async (t) => {
  const srv = await server(() => {});
  t.after(() => srv.close());
  const { wx } = createWx();
  const r = await new Promise((resolve) => {
    const task = wx.request({ url: srv.url + '/hang', success: () => resolve('success'), fail: (e) => resolve(e.errMsg) });
    setTimeout(() => task.abort(), 20);
  });
  assert.equal(r, 'request:fail abort');
});

test('wx.uploadFile sends multipart and hands back the body as a string', async (t) => {
  const srv = await server((req, body, res) => json(res, 200, { errno: 0, data: { len: body.length } }));
  t.after(() => srv.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shim-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'avatar.png');
  const png = tinyPNG();
  fs.writeFileSync(file, png);
  const { wx } = createWx();
  const r = await call(wx.uploadFile, { url: srv.url + '/up', filePath: file, name: 'file', header: { 'X-OA-Token': 't' }, formData: { k: 'v' } });
  assert.equal(r.ok, true);
  assert.equal(typeof r.res.data, 'string');
  assert.equal(r.res.statusCode, 200);
  const seen = srv.seen[0];
  assert.match(seen.headers['content-type'], /^multipart\/form-data; boundary=/);
  assert.equal(seen.headers['x-oa-token'], 't');
  const text = seen.body.toString('latin1');
  assert.match(text, /name="file"; filename="avatar.png"/);
  assert.match(text, /name="k"\r\n\r\nv/);
  assert.ok(seen.body.includes(png), 'the file bytes are in the body unchanged');

  const missing = await call(wx.uploadFile, { url: srv.url + '/up', filePath: path.join(dir, 'nope.png'), name: 'file' });
  assert.equal(missing.ok, false);
  assert.match(missing.res.errMsg, /^uploadFile:fail /);
});

test('wx.login mints a code from mockwx for the current user; checkSession follows it', async (t) => {
  let n = 0;
  const srv = await server((req, body, res) => {
    const { user } = JSON.parse(body.toString());
    json(res, 200, { code: user + '.' + (++n) });
  });
  t.after(() => srv.close());
  const { wx, h } = createWx({ mockwx: srv.url, user: 'bob' });
  assert.equal((await call(wx.checkSession, {})).ok, false, 'no session before login');
  const r = await call(wx.login, {});
  assert.equal(r.ok, true);
  assert.equal(r.res.code, 'bob.1');
  assert.equal(r.res.errMsg, 'login:ok');
  assert.equal(srv.seen[0].url, '/__mock/login');
  assert.equal((await call(wx.checkSession, {})).ok, true);
  h.expireSession();
  assert.equal((await call(wx.checkSession, {})).ok, false);
  h.replayCode = 'bob.1';
  assert.equal((await wx.login()).code, 'bob.1', 'promise style without callbacks');
  assert.equal(srv.seen.length, 1, 'a replayed code is not minted');
});

test('storage is in memory, copies values and answers "" for a missing key', () => {
  const { wx } = createWx();
  assert.equal(wx.getStorageSync('token'), '');
  const info = { nickName: '😀' };
  wx.setStorageSync('userInfo', info);
  info.nickName = 'changed';
  assert.deepEqual(wx.getStorageSync('userInfo'), { nickName: '😀' });
  wx.getStorageSync('userInfo').nickName = 'x';
  assert.deepEqual(wx.getStorageSync('userInfo'), { nickName: '😀' });
  wx.setStorageSync('token', 'abc');
  wx.removeStorageSync('token');
  assert.equal(wx.getStorageSync('token'), '');
  wx.clearStorageSync();
  assert.deepEqual(wx.getStorageInfoSync().keys, []);
});

test('routes rewrite an origin, and only that origin', () => {
  const { h } = createWx({ routes: { 'http://127.0.0.1:8080': 'http://127.0.0.1:1234/' } });
  assert.equal(h.resolve('http://127.0.0.1:8080/wx/auth/info'), 'http://127.0.0.1:1234/wx/auth/info');
  assert.equal(h.resolve('http://127.0.0.1:80800/x'), 'http://127.0.0.1:80800/x');
  assert.equal(h.resolve('http://example.invalid/x'), 'http://example.invalid/x');
});

test('navigation, toasts and modals are recorded', async () => {
  const { wx, h } = createWx();
  await wx.navigateTo({ url: '/pages/a/a' });
  await wx.navigateBack();
  wx.showToast({ title: 'hi', icon: 'error' });
  h.modalConfirm = false;
  const m = await wx.showModal({ content: 'sure?' });
  assert.equal(m.confirm, false);
  assert.deepEqual(h.navigations.map((n) => n.api), ['navigateTo', 'navigateBack']);
  assert.deepEqual(h.toasts, [{ title: 'hi', icon: 'error' }]);
  assert.deepEqual(h.modals, [{ title: undefined, content: 'sure?' }]);
});

test('setPath follows setData key paths', () => {
  const d = { userInfo: { nickName: 'a', mobile: '' } };
  setPath(d, 'userInfo.mobile', '138');
  setPath(d, 'list[1].name', 'x');
  assert.deepEqual(d.userInfo, { nickName: 'a', mobile: '138' });
  assert.equal(d.list.length, 2);
  assert.deepEqual(d.list[1], { name: 'x' });
});

test('the example is a complete mini-program: pages, JSON and bound handlers', () => {
  const appJson = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'app.json'), 'utf8'));
  assert.ok(appJson.pages.length >= 2);
  const { wx, h } = createWx();
  const mp = loadMiniProgram(EXAMPLE, wx, h);
  for (const route of appJson.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) {
      assert.ok(fs.existsSync(path.join(EXAMPLE, route + '.' + ext)), route + '.' + ext + ' exists');
    }
    JSON.parse(fs.readFileSync(path.join(EXAMPLE, route + '.json'), 'utf8'));
  }
  assert.equal(typeof mp.app.onLaunch, 'function');
});

test('every page binds handlers that exist', async () => {
  const appJson = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'app.json'), 'utf8'));
  const { wx, h } = createWx();
  const mp = loadMiniProgram(EXAMPLE, wx, h);
  for (const route of appJson.pages) {
    const page = await mp.open(route);
    const handlers = wxmlHandlers(fs.readFileSync(path.join(EXAMPLE, route + '.wxml'), 'utf8'));
    for (const name of handlers) {
      assert.equal(typeof page[name], 'function', route + ' binds ' + name);
    }
  }
  assert.deepEqual(wxmlHandlers('<button bindtap="a" catch:tap="b" bindgetphonenumber="c" data-x="{{y}}"/>'), ['a', 'b', 'c']);
});

test('the example uses no Node.js module and no require outside itself', () => {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.js')) files.push(p);
    }
  };
  walk(EXAMPLE);
  assert.ok(files.length >= 6);
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    for (const m of src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      assert.match(m[1], /^\.{1,2}\//, path.relative(EXAMPLE, f) + ' requires ' + m[1]);
      assert.ok(fs.existsSync(path.resolve(path.dirname(f), m[1])), path.relative(EXAMPLE, f) + ': ' + m[1] + ' exists');
    }
    assert.doesNotMatch(src, /\bprocess\.|\bBuffer\b|__dirname/, path.relative(EXAMPLE, f) + ' uses Node.js only APIs');
  }
});
