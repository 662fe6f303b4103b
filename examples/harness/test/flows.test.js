'use strict';
// The example mini-program's own code against a real `oactl dev` (serve and
// mockwx in one process, temp SQLite file): login, personal centre, avatar,
// nickname, phone, logout and 501, reused code, server down.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { startDev, mintCode, freePort } = require('../oactl.js');
const { newPhone, waitFor, tempFile, loginThroughPages: login, LOGIN_ROUTE, UCENTER_ROUTE } = require('../phone.js');
const { tinyPNG } = require('../png.js');


let dev;
// secrets collects every token and code the flows saw; the server's log
// must contain none of them.
const secrets = [];

test.before(async () => {
  dev = await startDev();
});

test.after(async () => {
  if (dev) {
    await dev.stop();
  }
});

function phone(user) {
  return newPhone({ api: dev.api, mockwx: dev.mockwx, user });
}

async function rawInfo(token) {
  const res = await fetch(dev.api + '/wx/auth/info', { headers: { 'X-OA-Token': token } });
  assert.equal(res.status, 200);
  return res.json();
}

// loginThroughPages is phone.js's, noting the token and codes the server
// log must not hold.
async function loginThroughPages(p) {
  const ucenter = await login(p);
  secrets.push(p.wx.getStorageSync('token'), ...p.h.codes);
  return ucenter;
}

test('first login stores token and userInfo; the personal centre loads', async () => {
  const p = phone('mp-first');
  const ucenter = await loginThroughPages(p);

  const token = p.wx.getStorageSync('token');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, 'a 43-character base64url token');
  const userInfo = p.wx.getStorageSync('userInfo');
  assert.equal(typeof userInfo, 'object');
  for (const k of ['nickName', 'avatarUrl', 'gender']) {
    assert.ok(k in userInfo, 'userInfo.' + k);
  }
  assert.equal(p.mp.app.globalData.hasLogin, true);
  assert.deepEqual(p.h.navigations.map((n) => n.api), ['navigateTo', 'navigateBack']);
  // Every call carried the token the server handed out.
  const infoCall = p.h.requests.filter((r) => r.url.endsWith('/wx/auth/info')).pop();
  assert.equal(infoCall.header['X-OA-Token'], token);
  assert.equal(infoCall.url, dev.api + '/wx/auth/info');
  const info = await rawInfo(token);
  assert.equal(info.errno, 0);
  assert.deepEqual(ucenter.data.userInfo, { nickName: info.data.nickName, avatar: info.data.avatar, mobile: info.data.mobile });
});

test('avatar uploaded and saved, nickname 😀测试 saved and shown back, phone bound, logout, then 501', async () => {
  const p = phone('mp-centre');
  const ucenter = await loginThroughPages(p);
  const token = p.wx.getStorageSync('token');

  // Avatar: chooseAvatar's temporary file goes up with wx.uploadFile, its
  // URL is saved with the profile API.
  const png = tinyPNG(4);
  await ucenter.onChooseAvatar({ type: 'chooseavatar', detail: { avatarUrl: tempFile('avatar.png', png) } });
  assert.equal(ucenter.data.error, '', 'avatar error: ' + ucenter.data.error);
  const avatar = ucenter.data.userInfo.avatar;
  assert.ok(avatar.startsWith(dev.api + '/wx/storage/fetch/'), 'absolute fetch URL: ' + avatar);
  const img = await fetch(avatar);
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await img.arrayBuffer()), png);
  assert.equal((await rawInfo(token)).data.avatar, avatar);

  // Nickname with an emoji and CJK.
  ucenter.onNicknameInput({ detail: { value: '😀测试' } });
  await ucenter.saveNickname();
  assert.equal(ucenter.data.error, '');
  assert.equal(ucenter.data.userInfo.nickName, '😀测试');
  assert.equal((await rawInfo(token)).data.nickName, '😀测试');
  assert.ok(p.h.toasts.some((t) => t.title === '已保存'));

  // Phone: WeChat's getPhoneNumber button hands the page a code of the same user.
  const code = await mintCode(dev.mockwx, 'mp-centre');
  secrets.push(code);
  await ucenter.getPhoneNumber({ type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:ok', code } });
  assert.equal(ucenter.data.error, '', 'bindPhone error: ' + ucenter.data.error);
  assert.match(ucenter.data.userInfo.mobile, /^138\d{8}$/);
  await ucenter.loadInfo();
  assert.match(ucenter.data.userInfo.mobile, /^138\d{8}$/, 'the bound number is stored');
  assert.equal((await rawInfo(token)).data.mobile, ucenter.data.userInfo.mobile);

  // A refused phone authorisation sends no request.
  const before = p.h.requests.length;
  await ucenter.getPhoneNumber({ type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.equal(p.h.requests.length, before);

  // Logout: confirmed in a modal, the server forgets the token, storage is empty.
  assert.equal(await ucenter.logout(), true);
  assert.equal(p.h.modals.length, 1);
  assert.equal(p.wx.getStorageSync('token'), '');
  assert.equal(p.wx.getStorageSync('userInfo'), '');
  assert.equal(ucenter.data.hasLogin, false);
  assert.equal(p.mp.app.globalData.hasLogin, false);
  assert.equal((await rawInfo(token)).errno, 501);

  // A stale token (another copy of the storage, say) answers 501: util.js
  // drops the login and opens the login page.
  p.wx.setStorageSync('token', token);
  p.wx.setStorageSync('userInfo', { nickName: '😀测试' });
  const navs = p.h.navigations.length;
  await ucenter.onShow();
  assert.equal(p.wx.getStorageSync('token'), '');
  assert.equal(p.wx.getStorageSync('userInfo'), '');
  assert.deepEqual(p.h.navigations.slice(navs), [{ api: 'navigateTo', url: '/pages/auth/login/login', delta: undefined }]);
  await waitFor(() => p.mp.top().route === LOGIN_ROUTE, 'the login page');
  assert.equal(ucenter.data.hasLogin, false);
});

test('注销账号: declined, nothing changes; confirmed, every token answers 501, the avatar is gone, a new login is a new, empty account', async () => {
  const p = phone('mp-cancel');
  const ucenter = await loginThroughPages(p);
  const token = p.wx.getStorageSync('token');
  await ucenter.onChooseAvatar({ type: 'chooseavatar', detail: { avatarUrl: tempFile('avatar.png', tinyPNG(3)) } });
  const avatar = ucenter.data.userInfo.avatar;
  ucenter.onNicknameInput({ detail: { value: '要走的人😀' } });
  await ucenter.saveNickname();
  const code = await mintCode(dev.mockwx, 'mp-cancel');
  secrets.push(code);
  await ucenter.getPhoneNumber({ type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:ok', code } });
  assert.equal(ucenter.data.error, '');
  // The user's other device.
  const other = phone('mp-cancel');
  await loginThroughPages(other);
  const otherToken = other.wx.getStorageSync('token');

  // Declined: no request, nothing changes.
  p.h.modalConfirm = false;
  const before = p.h.requests.length;
  assert.equal(await ucenter.cancelAccount(), false);
  assert.equal(p.h.requests.length, before);
  const modal = p.h.modals[p.h.modals.length - 1];
  assert.equal(modal.title, '注销账号');
  assert.match(modal.content, /无法恢复/);
  assert.equal((await rawInfo(token)).data.nickName, '要走的人😀');

  // Confirmed: the account goes, on every device.
  p.h.modalConfirm = true;
  assert.equal(await ucenter.cancelAccount(), true);
  assert.equal(ucenter.data.error, '');
  assert.equal(ucenter.data.hasLogin, false);
  assert.equal(p.mp.app.globalData.hasLogin, false);
  assert.equal(p.wx.getStorageSync('token'), '');
  assert.equal(p.wx.getStorageSync('userInfo'), '');
  assert.ok(p.h.toasts.some((t) => t.title === '账号已注销'));
  assert.equal((await rawInfo(token)).errno, 501);
  assert.equal((await rawInfo(otherToken)).errno, 501);
  assert.equal((await fetch(avatar)).status, 404, 'the uploaded avatar is deleted');

  // The same WeChat user logs in again: a new account with nothing in it.
  const again = phone('mp-cancel');
  const centre = await loginThroughPages(again);
  assert.deepEqual(centre.data.userInfo, { nickName: '', avatar: '', mobile: '' });
});

test('login page: chosen avatar and nickname are saved right after login', async () => {
  const p = phone('mp-loginpage');
  await p.mp.launch();
  const login = await p.mp.open(LOGIN_ROUTE);
  const png = tinyPNG(2, [255, 0, 0]);
  login.onChooseAvatar({ detail: { avatarUrl: tempFile('tmp_avatar.png', png) } });
  login.onNicknameInput({ detail: { value: '会议👨‍👩‍👧‍👦OA' } });
  await login.wxLogin();
  assert.equal(login.data.error, '', 'login error: ' + login.data.error);
  secrets.push(p.wx.getStorageSync('token'), ...p.h.codes);
  // Launched on the login page itself: it replaces itself with the centre.
  assert.equal(p.h.lastNavigation().api, 'redirectTo');
  const ucenter = await waitFor(() => p.mp.top().route === UCENTER_ROUTE && p.mp.top().data.hasLogin && p.mp.top(), 'the personal centre');
  assert.equal(ucenter.data.userInfo.nickName, '会议👨‍👩‍👧‍👦OA');
  assert.ok(ucenter.data.userInfo.avatar.startsWith(dev.api + '/wx/storage/fetch/'));
  const stored = p.wx.getStorageSync('userInfo');
  assert.equal(stored.nickName, '会议👨‍👩‍👧‍👦OA');
  assert.equal(stored.avatarUrl, ucenter.data.userInfo.avatar);
});

test('a second login keeps the user; a relaunch with a stored token is logged in', async () => {
  const p = phone('mp-again');
  await loginThroughPages(p);
  const first = p.wx.getStorageSync('token');
  const ucenter = p.mp.top();
  ucenter.onNicknameInput({ detail: { value: '第二次' } });
  await ucenter.saveNickname();

  // A relaunch reads the stored token: app.js's checkLogin asks the server.
  const storage = new Map(p.h.storage);
  const q = phone('mp-again');
  for (const [k, v] of storage) q.h.storage.set(k, v);
  q.h.sessionAlive = true;
  await q.mp.launch();
  await waitFor(() => q.mp.app.globalData.hasLogin, 'checkLogin on launch');
  const centre = await q.mp.open(UCENTER_ROUTE);
  assert.equal(centre.data.userInfo.nickName, '第二次');

  // Another device of the same user logs in: the same user, a second token,
  // and the first token still works.
  const other = phone('mp-again');
  const o = await loginThroughPages(other);
  assert.notEqual(other.wx.getStorageSync('token'), first);
  assert.equal(o.data.userInfo.nickName, '第二次');
  assert.equal((await rawInfo(first)).errno, 0);
});

test('a reused code is a failed login the page shows', async () => {
  const first = phone('mp-reuse');
  await loginThroughPages(first);
  const used = first.h.codes[0];

  const p = phone('mp-reuse');
  p.h.replayCode = used;
  await p.mp.launch();
  const login = await p.mp.open(LOGIN_ROUTE);
  await login.wxLogin();
  assert.notEqual(login.data.error, '', 'the page shows an error');
  assert.equal(login.data.loading, false);
  assert.equal(p.h.toasts.pop().icon, 'error');
  assert.equal(p.wx.getStorageSync('token'), '', 'no token stored');
  assert.equal(p.wx.getStorageSync('userInfo'), '');
  assert.equal(p.mp.top().route, LOGIN_ROUTE, 'still on the login page');
  assert.equal(p.h.navigations.length, 0);

  // The server's envelope for it: errno -1 with WeChat's errcode.
  const res = await fetch(dev.api + '/wx/auth/login_by_weixin', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: used })
  });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.errno, -1);
  assert.equal(body.data.wxErrcode, 40163);
});

test('an upload that is not an image is an error the page shows', async () => {
  const p = phone('mp-notimage');
  const ucenter = await loginThroughPages(p);
  await ucenter.onChooseAvatar({ detail: { avatarUrl: tempFile('avatar.png', Buffer.from('<svg onload="x"/>')) } });
  assert.notEqual(ucenter.data.error, '');
  assert.equal(p.h.toasts.pop().icon, 'error');
  assert.equal(ucenter.data.userInfo.avatar, '', 'nothing saved');
});

test('a server that is down rejects the request promise at once', async () => {
  const port = await freePort();
  const p = newPhone({ api: 'http://127.0.0.1:' + port, mockwx: dev.mockwx, user: 'mp-down' });
  p.wx.setStorageSync('token', 'x'.repeat(43));
  const started = Date.now();
  await assert.rejects(p.util.request(p.api.AuthInfo), (err) => {
    assert.equal(err.errno, -1);
    assert.match(err.errmsg, /^request:fail /);
    return true;
  });
  assert.ok(Date.now() - started < 6000, 'not after the 6 s timeout');
  // The page shows it and keeps the stored login (the server may come back).
  const ucenter = await p.mp.open(UCENTER_ROUTE);
  assert.match(ucenter.data.error, /^request:fail /);
  assert.equal(p.wx.getStorageSync('token'), 'x'.repeat(43));
  // Login fails the same way, shown on the page.
  const login = await p.mp.open(LOGIN_ROUTE);
  await login.wxLogin();
  assert.match(login.data.error, /^request:fail /);
});

test('a server that accepts but never answers rejects after 6 s, not later', async (t) => {
  const sockets = new Set();
  const srv = http.createServer(() => { /* never answers */ });
  srv.on('connection', (s) => sockets.add(s));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => {
    for (const s of sockets) s.destroy();
    srv.close(r);
  }));
  const p = newPhone({ api: 'http://127.0.0.1:' + srv.address().port, mockwx: dev.mockwx, user: 'mp-hang' });
  const started = Date.now();
  await assert.rejects(p.util.request(p.api.AuthInfo), { errno: -1, errmsg: 'request:fail timeout' });
  const took = Date.now() - started;
  assert.ok(took >= 5900 && took < 7500, 'rejected after ' + took + ' ms');
});

test('the server log holds no token and no login code', () => {
  assert.ok(secrets.length >= 8);
  for (const s of secrets) {
    assert.ok(s && s.length >= 4);
    assert.equal(dev.proc.log.includes(s), false, 'the log contains a secret of length ' + s.length);
  }
});
