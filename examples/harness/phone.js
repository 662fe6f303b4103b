'use strict';
// phone.js: one simulated phone running the example mini-program against a
// server, for the flow tests.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createWx } = require('./wx.js');
const { loadMiniProgram } = require('./loader.js');

const EXAMPLE = path.resolve(__dirname, '..', 'miniprogram');
// EXAMPLE_ORIGIN is the server the example's config/api.js names.
const EXAMPLE_ORIGIN = 'http://127.0.0.1:8080';

// EXAMPLE_APPID is the appid in the example's project.config.json, the one
// WeChat would name in the Referer of its requests.
const EXAMPLE_APPID = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'project.config.json'), 'utf8')).appid;

// newPhone loads the example with a fresh wx (empty storage) whose requests
// to the example's configured origin go to api, and whose wx.login asks
// mockwx for codes of user. appid is the mini-program's (default: the
// example's own): the app its codes are for and its Referer names.
function newPhone({ api, mockwx, user, appid = EXAMPLE_APPID }) {
  const { wx, h } = createWx({ mockwx, user, appid, routes: { [EXAMPLE_ORIGIN]: api } });
  const mp = loadMiniProgram(EXAMPLE, wx, h);
  return { wx, h, mp, api: mp.require('/config/api.js'), util: mp.require('/utils/util.js') };
}

const LOGIN_ROUTE = 'pages/auth/login/login';
const UCENTER_ROUTE = 'pages/ucenter/index/index';

// loginThroughPages does what a user does on a cold start: the personal
// centre, tap "点击登录", tap "微信登录", back on the personal centre,
// which it returns.
async function loginThroughPages(p) {
  await p.mp.launch();
  const ucenter = await p.mp.open(UCENTER_ROUTE);
  assert.equal(ucenter.data.hasLogin, false);
  ucenter.goLogin();
  const login = await waitFor(() => p.mp.top().route === LOGIN_ROUTE && p.mp.top(), 'the login page');
  await login.wxLogin();
  assert.equal(login.data.error, '', 'login error: ' + login.data.error);
  await waitFor(() => p.mp.top() === ucenter && ucenter.data.hasLogin, 'the personal centre after login');
  return ucenter;
}

// waitFor polls cond until it returns a truthy value or ms pass; the pages
// start work they do not hand back (navigateBack's onShow), so tests wait
// for the visible outcome instead of sleeping.
async function waitFor(cond, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for ' + what);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

// tempFile writes bytes to a temporary file, like the temporary path
// chooseAvatar hands a page.
const tempDirs = [];
process.on('exit', () => {
  for (const d of tempDirs) {
    fs.rmSync(d, { recursive: true, force: true });
  }
});

function tempFile(name, bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxfile-'));
  tempDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

module.exports = { newPhone, loginThroughPages, waitFor, tempFile, EXAMPLE, EXAMPLE_ORIGIN, EXAMPLE_APPID, LOGIN_ROUTE, UCENTER_ROUTE };
