// services/user.js: login and the login check, in the seed's shape.
const util = require('../utils/util.js');
const api = require('../config/api.js');

// checkSession resolves when WeChat still holds this user's session_key.
function checkSession() {
  return new Promise(function (resolve, reject) {
    wx.checkSession({
      success: function () {
        resolve(true);
      },
      fail: function () {
        reject(false);
      }
    });
  });
}

// login resolves with {code} from wx.login.
function login() {
  return new Promise(function (resolve, reject) {
    wx.login({
      success: function (res) {
        if (res.code) {
          resolve(res);
        } else {
          reject(res);
        }
      },
      fail: function (err) {
        reject(err);
      }
    });
  });
}

// loginByWeixin exchanges a fresh code for a token and stores the token and
// the server's userInfo. userInfo is optional: WeChat no longer hands real
// profiles to wx.getUserProfile, the avatar and nickname are set afterwards
// through the profile API.
function loginByWeixin(userInfo) {
  return new Promise(function (resolve, reject) {
    return login().then((res) => {
      var body = { code: res.code };
      if (userInfo) {
        body.userInfo = userInfo;
      }
      util.request(api.AuthLoginByWeixin, body, 'POST').then(res => {
        if (res.errno === 0) {
          wx.setStorageSync('userInfo', res.data.userInfo);
          wx.setStorageSync('token', res.data.token);
          resolve(res);
        } else {
          reject(res);
        }
      }).catch((err) => {
        reject(err);
      });
    }).catch((err) => {
      reject(err);
    });
  });
}

// checkLogin resolves when a token is stored, WeChat's session is alive and
// the server still accepts the token.
function checkLogin() {
  return new Promise(function (resolve, reject) {
    if (wx.getStorageSync('userInfo') && wx.getStorageSync('token')) {
      checkSession().then(() => {
        return util.request(api.AuthInfo);
      }).then((res) => {
        if (res && res.errno === 0) {
          resolve(true);
        } else {
          reject(false);
        }
      }).catch(() => {
        reject(false);
      });
    } else {
      reject(false);
    }
  });
}

module.exports = {
  loginByWeixin: loginByWeixin,
  checkLogin: checkLogin
};
