// pages/auth/login/login.js: WeChat login with the current avatar and
// nickname flow (<button open-type="chooseAvatar">, <input type="nickname">).
//
// Since 2022 WeChat gives no real profile to wx.getUserProfile, so the page
// logs in first (the server stores an anonymous user), then uploads the
// chosen avatar and saves avatar and nickname through the profile API.
const api = require('../../../config/api.js');
const util = require('../../../utils/util.js');
const user = require('../../../services/user.js');

const app = getApp();

Page({
  data: {
    avatarTmp: '',
    nickName: '',
    error: '',
    loading: false
  },

  onChooseAvatar: function (e) {
    this.setData({ avatarTmp: e.detail.avatarUrl });
  },

  onNicknameInput: function (e) {
    this.setData({ nickName: e.detail.value });
  },

  // wxLogin returns its promise so callers (and tests) can wait for it;
  // WeChat itself ignores the value.
  wxLogin: function () {
    if (this.data.loading) {
      return Promise.resolve();
    }
    this.setData({ loading: true, error: '' });
    return user.loginByWeixin().then(() => {
      return this.saveProfile();
    }).then(() => {
      app.globalData.hasLogin = true;
      this.setData({ loading: false });
      if (getCurrentPages().length > 1) {
        wx.navigateBack({ delta: 1 });
      } else {
        wx.redirectTo({ url: '/pages/ucenter/index/index' });
      }
    }).catch((err) => {
      var msg = (err && err.errmsg) || '登录失败';
      this.setData({ loading: false, error: msg });
      util.showErrorToast(msg);
    });
  },

  // saveProfile uploads the chosen avatar (if any) and saves it with the
  // nickname (if any), then refreshes the stored userInfo.
  saveProfile: function () {
    var nickName = this.data.nickName.trim();
    var upload = this.data.avatarTmp
      ? util.uploadFile(api.StorageUpload, this.data.avatarTmp)
      : Promise.resolve(null);
    return upload.then((res) => {
      if (res && res.errno !== 0) {
        return Promise.reject(res);
      }
      var profile = {};
      if (res) {
        profile.avatar = res.data.url;
      }
      if (nickName) {
        profile.nickname = nickName;
      }
      if (!profile.avatar && !profile.nickname) {
        return null;
      }
      return util.request(api.AuthProfile, profile, 'POST').then((r) => {
        if (r.errno !== 0) {
          return Promise.reject(r);
        }
        var stored = wx.getStorageSync('userInfo') || {};
        if (profile.avatar) {
          stored.avatarUrl = profile.avatar;
        }
        if (profile.nickname) {
          stored.nickName = profile.nickname;
        }
        wx.setStorageSync('userInfo', stored);
        return r;
      });
    });
  }
});
