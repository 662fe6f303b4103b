// utils/util.js: the one place that talks HTTP to the server.
//
// Every call carries the stored token in X-OA-Token. The server answers
// HTTP 200 with an envelope {errno, errmsg, data}; errno 501 means the
// token is missing, expired or revoked: the stored login is dropped and the
// user is sent to the login page.

var LOGIN_PAGE = '/pages/auth/login/login';
var TIMEOUT_MS = 6000;

function formatTime(date) {
  var pad = function (n) { return n < 10 ? '0' + n : '' + n; };
  return [date.getFullYear(), date.getMonth() + 1, date.getDate()].map(pad).join('-') + ' ' +
    [date.getHours(), date.getMinutes(), date.getSeconds()].map(pad).join(':');
}

// clearLogin forgets the stored login (what logout and errno 501 both need).
function clearLogin() {
  try {
    wx.removeStorageSync('userInfo');
    wx.removeStorageSync('token');
  } catch (e) {
    // Storage failures leave nothing better to do; the server still refuses the token.
  }
  if (typeof getApp === 'function' && getApp()) {
    getApp().globalData.hasLogin = false;
  }
}

// goLogin opens the login page unless it is already on top, so a burst of
// 501 answers opens it once.
function goLogin() {
  var pages = typeof getCurrentPages === 'function' ? getCurrentPages() : [];
  var top = pages.length ? pages[pages.length - 1] : null;
  if (top && '/' + top.route === LOGIN_PAGE) {
    return;
  }
  wx.navigateTo({ url: LOGIN_PAGE });
}

// handleEnvelope turns an HTTP answer into the promise's outcome: resolve
// with the envelope (callers check errno), reject on 501 after dropping the
// login, reject on any other HTTP status.
function handleEnvelope(statusCode, body, resolve, reject) {
  if (statusCode !== 200) {
    reject({ errno: -1, errmsg: 'HTTP ' + statusCode, data: body });
    return;
  }
  if (!body || typeof body !== 'object') {
    reject({ errno: -1, errmsg: '服务器返回格式错误' });
    return;
  }
  if (body.errno === 501) {
    clearLogin();
    goLogin();
    reject(body);
    return;
  }
  resolve(body);
}

// request sends a JSON request and resolves with the server's envelope.
// It rejects when the network fails or after 6 s without an answer, so a
// server that is down never leaves a page waiting.
function request(url, data = {}, method = 'GET') {
  return new Promise(function (resolve, reject) {
    wx.request({
      url: url,
      data: data,
      method: method,
      timeout: TIMEOUT_MS,
      header: {
        'Content-Type': 'application/json',
        'X-OA-Token': wx.getStorageSync('token')
      },
      success: function (res) {
        handleEnvelope(res.statusCode, res.data, resolve, reject);
      },
      fail: function (err) {
        reject({ errno: -1, errmsg: err.errMsg || '网络错误' });
      }
    });
  });
}

// uploadFile uploads a local file (a chooseAvatar temporary path) as the
// multipart field "file" and resolves with the envelope; data.url is the
// address to save with the profile API.
function uploadFile(url, filePath) {
  return new Promise(function (resolve, reject) {
    wx.uploadFile({
      url: url,
      filePath: filePath,
      name: 'file',
      timeout: TIMEOUT_MS,
      header: {
        'X-OA-Token': wx.getStorageSync('token')
      },
      success: function (res) {
        // uploadFile hands back the body as a string, unlike wx.request.
        var body = res.data;
        if (typeof body === 'string') {
          try {
            body = JSON.parse(body);
          } catch (e) {
            body = null;
          }
        }
        handleEnvelope(res.statusCode, body, resolve, reject);
      },
      fail: function (err) {
        reject({ errno: -1, errmsg: err.errMsg || '上传失败' });
      }
    });
  });
}

function showErrorToast(msg) {
  wx.showToast({
    title: msg,
    icon: 'error',
    duration: 2000
  });
}

module.exports = {
  formatTime: formatTime,
  request: request,
  uploadFile: uploadFile,
  clearLogin: clearLogin,
  showErrorToast: showErrorToast,
  LOGIN_PAGE: LOGIN_PAGE
};
