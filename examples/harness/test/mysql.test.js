'use strict';
// The example mini-program against two `oactl serve` processes sharing one
// MariaDB/MySQL database (and one mockwx): a token from one works on the
// other, and a logout on one is seen by the other.
//
// Needs OACTL_TEST_MYSQL_DSN=mysql://user:pw@127.0.0.1:PORT/db and the
// `mariadb` client; skipped without the variable unless OACTL_REQUIRE_MYSQL=1.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { run, startMockwx, startServe, DEV_APPID } = require('../oactl.js');
const { newPhone, waitFor, tempFile, EXAMPLE_ORIGIN } = require('../phone.js');
const { tinyPNG } = require('../png.js');

const DSN = process.env.OACTL_TEST_MYSQL_DSN || '';
const REQUIRED = process.env.OACTL_REQUIRE_MYSQL === '1';
const SKIP = DSN === '' && !REQUIRED
  ? 'OACTL_TEST_MYSQL_DSN is not set (mysql://user:pw@127.0.0.1:PORT/db); set it, or OACTL_REQUIRE_MYSQL=1 to fail instead'
  : false;

// parseDSN reads mysql://user:pw@host:port/db.
function parseDSN(dsn) {
  const u = new URL(dsn);
  if (u.protocol !== 'mysql:') {
    throw new Error('OACTL_TEST_MYSQL_DSN must be mysql://user:pw@host:port/db');
  }
  return {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    host: u.hostname,
    port: u.port || '3306'
  };
}

// mariadb runs one statement with the mariadb client; the password goes in
// MYSQL_PWD so it is not on a command line.
function mariadb(c, sql) {
  return new Promise((resolve, reject) => {
    execFile('mariadb', ['--no-defaults', '-h', c.host, '-P', c.port, '-u', c.user, '-e', sql],
      { env: Object.assign({}, process.env, { MYSQL_PWD: c.password }), timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error('mariadb: ' + err.message + '\n' + stderr)) : resolve(stdout)));
  });
}

function dbURL(c, db) {
  return 'mysql://' + encodeURIComponent(c.user) + ':' + encodeURIComponent(c.password) + '@' + c.host + ':' + c.port + '/' + db;
}

test('a token from one serve works on another; a logout on one is seen by both', { skip: SKIP, timeout: 120000 }, async (t) => {
  assert.notEqual(DSN, '', 'OACTL_REQUIRE_MYSQL=1 but OACTL_TEST_MYSQL_DSN is not set');
  const c = parseDSN(DSN);
  const db = 'oactl_mp_' + process.pid + '_' + crypto.randomBytes(3).toString('hex');
  await mariadb(c, 'CREATE DATABASE `' + db + '` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci');
  t.after(() => mariadb(c, 'DROP DATABASE IF EXISTS `' + db + '`'));
  const url = dbURL(c, db);
  await run(['migrate', 'up', '--db', url]);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oactl-mp-my-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const secret = 'mp' + crypto.randomBytes(12).toString('hex');
  const config = path.join(tmp, 'application.yml');
  // The seed's Spring layout: an existing application.yml works as it is.
  fs.writeFileSync(config, 'oa:\n  wx:\n    app-id: ' + DEV_APPID + '\n    app-secret: ' + secret + '\n    msgDataFormat: JSON\n');

  const procs = [];
  t.after(async () => {
    for (const p of procs.reverse()) {
      await p.stop();
    }
  });
  const mock = await startMockwx({ appid: DEV_APPID, secret });
  procs.push(mock.proc);
  const storageDir = path.join(tmp, 'files');
  const a = await startServe({ db: url, wxBaseURL: mock.url, config, storageDir });
  procs.push(a.proc);
  const b = await startServe({ db: url, wxBaseURL: mock.url, storageDir, env: { OA_WX_APP_SECRET: secret } });
  procs.push(b.proc);

  // Log in through serve A.
  const p = newPhone({ api: a.url, mockwx: mock.url, user: 'mp-two' });
  await p.mp.launch();
  const ucenter = await p.mp.open('pages/ucenter/index/index');
  ucenter.goLogin();
  const login = await waitFor(() => p.mp.top().route === 'pages/auth/login/login' && p.mp.top(), 'the login page');
  await login.wxLogin();
  assert.equal(login.data.error, '', 'login via A: ' + login.data.error);
  await waitFor(() => p.mp.top() === ucenter && ucenter.data.hasLogin, 'the personal centre');
  const token = p.wx.getStorageSync('token');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);

  // The same phone now reaches serve B (a load balancer's other backend).
  p.h.route(EXAMPLE_ORIGIN, b.url);
  await ucenter.loadInfo();
  assert.equal(ucenter.data.error, '', 'info via B: ' + ucenter.data.error);
  assert.equal(ucenter.data.hasLogin, true);
  assert.equal(p.h.requests[p.h.requests.length - 1].url, b.url + '/wx/auth/info');

  ucenter.onNicknameInput({ detail: { value: '😀测试' } });
  await ucenter.saveNickname();
  assert.equal(ucenter.data.userInfo.nickName, '😀测试', 'saved via B, read back via B');
  const png = tinyPNG(3);
  await ucenter.onChooseAvatar({ detail: { avatarUrl: tempFile('a.png', png) } });
  assert.equal(ucenter.data.error, '');

  // A sees what B wrote (emoji intact through utf8mb4), and serves B's upload.
  p.h.route(EXAMPLE_ORIGIN, a.url);
  await ucenter.loadInfo();
  assert.equal(ucenter.data.userInfo.nickName, '😀测试');
  const key = ucenter.data.userInfo.avatar.split('/wx/storage/fetch/')[1];
  assert.ok(key, 'an avatar URL: ' + ucenter.data.userInfo.avatar);
  const img = await fetch(a.url + '/wx/storage/fetch/' + key);
  assert.equal(img.status, 200);
  assert.deepEqual(Buffer.from(await img.arrayBuffer()), png);

  // Logout through A; B refuses the token at its next request.
  assert.equal(await ucenter.logout(), true);
  const res = await fetch(b.url + '/wx/auth/info', { headers: { 'X-OA-Token': token } });
  assert.equal((await res.json()).errno, 501);
  p.h.route(EXAMPLE_ORIGIN, b.url);
  p.wx.setStorageSync('token', token);
  p.wx.setStorageSync('userInfo', { nickName: '😀测试' });
  await ucenter.onShow();
  assert.equal(p.wx.getStorageSync('token'), '');
  assert.equal(p.h.lastNavigation().url, '/pages/auth/login/login');

  // No process logged the app secret, the token or the login codes.
  for (const proc of procs) {
    for (const s of [secret, token, ...p.h.codes]) {
      assert.equal(proc.log.includes(s), false, proc.name + ' logged a secret of length ' + s.length);
    }
  }
});
