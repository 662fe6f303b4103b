'use strict';
// Several mini-programs on one backend (docs/APPS.md): the example runs as
// two apps of one company against `oactl dev`, whose mockwx gives one
// unionid per person. WeChat names the app in every request's Referer;
// the harness's wx does the same.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startDev } = require('../oactl.js');
const { newPhone, loginThroughPages, waitFor, LOGIN_ROUTE, EXAMPLE_APPID } = require('../phone.js');

const APP_B = 'wxexampleappb00002';

let dev;

test.before(async () => {
  dev = await startDev({ config: 'oa:\n  wx:\n    apps:\n      - app-id: ' + APP_B + '\n        app-secret: example-secret-b\n' });
});

test.after(async () => {
  if (dev) {
    await dev.stop();
  }
});

async function info(token) {
  const res = await fetch(dev.api + '/wx/auth/info', { headers: { 'X-OA-Token': token } });
  return (await res.json()).data;
}

test('the same person in a second app is the same user with the same profile', async () => {
  const a = newPhone({ api: dev.api, mockwx: dev.mockwx, user: 'mp-twoapps' });
  const centreA = await loginThroughPages(a);
  centreA.onNicknameInput({ detail: { value: '两个小程序😀' } });
  await centreA.saveNickname();
  assert.equal(centreA.data.error, '');

  const b = newPhone({ api: dev.api, mockwx: dev.mockwx, user: 'mp-twoapps', appid: APP_B });
  const centreB = await loginThroughPages(b);
  assert.equal(centreB.data.userInfo.nickName, '两个小程序😀', 'app B shows the profile set in app A');
  const tokenA = a.wx.getStorageSync('token');
  const tokenB = b.wx.getStorageSync('token');
  assert.notEqual(tokenA, tokenB);
  assert.deepEqual(await info(tokenB), await info(tokenA));

  // Every request of each phone named its own app, as WeChat's Referer does.
  for (const [p, appid] of [[a, EXAMPLE_APPID], [b, APP_B]]) {
    assert.ok(p.h.requests.length > 0);
    for (const r of p.h.requests) {
      assert.equal(r.header.Referer, 'https://servicewechat.com/' + appid + '/0/page-frame.html');
    }
  }

  // A change in app B shows in app A.
  centreB.onNicknameInput({ detail: { value: 'B 改的' } });
  await centreB.saveNickname();
  await centreA.loadInfo();
  assert.equal(centreA.data.userInfo.nickName, 'B 改的');
});

test('an app the server does not serve cannot log in', async () => {
  const c = newPhone({ api: dev.api, mockwx: dev.mockwx, user: 'mp-stranger', appid: 'wxnotconfigured0003' });
  c.h.mockwx = ''; // mockwx refuses to mint codes for an app it does not know
  c.h.replayCode = 'mp-stranger.1';
  await c.mp.launch();
  const login = await c.mp.open(LOGIN_ROUTE);
  await login.wxLogin();
  await waitFor(() => login.data.error !== '', 'the error on the login page');
  assert.equal(login.data.error, '参数值不对', 'errno 402 for the appid');
  assert.equal(c.wx.getStorageSync('token'), '');
});
