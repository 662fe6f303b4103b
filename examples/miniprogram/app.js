// app.js: the application object. globalData.hasLogin mirrors whether a
// token is stored; pages read it through getApp().
const user = require('./services/user.js');

App({
  globalData: {
    hasLogin: false
  },

  onLaunch: function () {
    // A stored token may be stale (expired, revoked, logged out elsewhere):
    // checkLogin asks the server, so the first page shows the truth.
    user.checkLogin().then(() => {
      this.globalData.hasLogin = true;
    }).catch(() => {
      this.globalData.hasLogin = false;
    });
  }
});
