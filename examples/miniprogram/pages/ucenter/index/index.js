// pages/ucenter/index/index.js: the personal centre. Shows the user's
// info, edits avatar and nickname, binds the phone number, logs out, and
// deletes the account (注销账号, which WeChat's platform rules require).
//
// Handlers return their promises so callers (and tests) can wait for them;
// WeChat itself ignores the value.
const api = require('../../../config/api.js');
const util = require('../../../utils/util.js');

const app = getApp();

Page({
  data: {
    hasLogin: false,
    userInfo: {
      nickName: '',
      avatar: '',
      mobile: ''
    },
    nickNameDraft: '',
    error: ''
  },

  onShow: function () {
    return this.loadInfo();
  },

  onPullDownRefresh: function () {
    return this.loadInfo().then(() => wx.stopPullDownRefresh());
  },

  loadInfo: function () {
    if (!wx.getStorageSync('token')) {
      this.setData({ hasLogin: false });
      return Promise.resolve();
    }
    return util.request(api.AuthInfo).then((res) => {
      if (res.errno !== 0) {
        return Promise.reject(res);
      }
      app.globalData.hasLogin = true;
      this.setData({
        hasLogin: true,
        error: '',
        userInfo: {
          nickName: res.data.nickName,
          avatar: res.data.avatar,
          mobile: res.data.mobile
        }
      });
    }).catch((err) => this.fail(err));
  },

  goLogin: function () {
    wx.navigateTo({ url: '/pages/auth/login/login' });
  },

  onChooseAvatar: function (e) {
    return util.uploadFile(api.StorageUpload, e.detail.avatarUrl).then((res) => {
      if (res.errno !== 0) {
        return Promise.reject(res);
      }
      return this.saveProfile({ avatar: res.data.url });
    }).catch((err) => this.fail(err));
  },

  onNicknameInput: function (e) {
    this.setData({ nickNameDraft: e.detail.value });
  },

  saveNickname: function () {
    var nickname = this.data.nickNameDraft.trim();
    if (!nickname) {
      util.showErrorToast('请输入昵称');
      return Promise.resolve();
    }
    return this.saveProfile({ nickname: nickname }).then(() => {
      this.setData({ nickNameDraft: '' });
    }).catch((err) => this.fail(err));
  },

  saveProfile: function (profile) {
    return util.request(api.AuthProfile, profile, 'POST').then((res) => {
      if (res.errno !== 0) {
        return Promise.reject(res);
      }
      wx.showToast({ title: '已保存' });
      return this.loadInfo();
    });
  },

  // getPhoneNumber receives WeChat's phone-number code (e.detail.code) from
  // <button open-type="getPhoneNumber">; the user may also refuse.
  getPhoneNumber: function (e) {
    if (!e.detail || !e.detail.code) {
      util.showErrorToast('未授权手机号');
      return Promise.resolve();
    }
    return util.request(api.AuthBindPhone, { code: e.detail.code }, 'POST').then((res) => {
      if (res.errno !== 0) {
        return Promise.reject(res);
      }
      this.setData({ 'userInfo.mobile': res.data.mobile });
      wx.showToast({ title: '绑定成功' });
    }).catch((err) => this.fail(err));
  },

  logout: function () {
    return new Promise((resolve) => {
      wx.showModal({
        title: '',
        content: '退出登录？',
        success: (res) => {
          if (!res.confirm) {
            resolve(false);
            return;
          }
          util.request(api.AuthLogout, {}, 'POST').catch(() => {
            // Logging out locally matters more than the server's answer.
          }).then(() => {
            util.clearLogin();
            this.setData({ hasLogin: false, userInfo: { nickName: '', avatar: '', mobile: '' } });
            resolve(true);
          });
        },
        fail: () => resolve(false)
      });
    });
  },

  // cancelAccount deletes the account after a confirmation that says what
  // goes: the server erases the profile, the phone number, the avatar and
  // every login at once, and a later login with this WeChat account makes
  // a new, empty account. It resolves true when the account is gone.
  cancelAccount: function () {
    return new Promise((resolve) => {
      wx.showModal({
        title: '注销账号',
        content: '注销后，昵称、头像、手机号和登录记录将被清除，且无法恢复。确定注销？',
        confirmText: '注销',
        confirmColor: '#e64340',
        success: (res) => {
          if (!res.confirm) {
            resolve(false);
            return;
          }
          util.request(api.AuthCancel, {}, 'POST').then((r) => {
            if (r.errno !== 0) {
              return Promise.reject(r);
            }
            util.clearLogin();
            app.globalData.hasLogin = false;
            this.setData({ hasLogin: false, error: '', userInfo: { nickName: '', avatar: '', mobile: '' } });
            wx.showToast({ title: '账号已注销' });
            resolve(true);
          }).catch((err) => {
            this.fail(err);
            resolve(false);
          });
        },
        fail: () => resolve(false)
      });
    });
  },

  // fail shows an error; a 501 was already handled by util.request (the
  // login was dropped and the login page opened).
  fail: function (err) {
    var msg = (err && err.errmsg) || '网络错误';
    if (err && err.errno === 501) {
      this.setData({ hasLogin: false, error: '' });
      return;
    }
    this.setData({ error: msg });
    util.showErrorToast(msg);
  }
});
