// config/api.js: every server address the mini-program uses.
//
// Pointing the mini-program at oactl changes only WxApiRoot: the paths
// below are the seed's (litemall's) and oactl serves them unchanged.
// `oactl dev` listens on 127.0.0.1:8080 by default; on a phone use the
// machine's LAN address, in production an https domain registered in the
// mini-program's "request 合法域名" list.
var WxApiRoot = 'http://127.0.0.1:8080/wx/';

module.exports = {
  AuthLoginByWeixin: WxApiRoot + 'auth/login_by_weixin', // 微信登录
  AuthInfo: WxApiRoot + 'auth/info', // 用户信息
  AuthProfile: WxApiRoot + 'auth/profile', // 修改昵称、头像
  AuthLogout: WxApiRoot + 'auth/logout', // 退出登录
  AuthCancel: WxApiRoot + 'auth/cancel', // 注销账号
  AuthBindPhone: WxApiRoot + 'auth/bindPhone', // 绑定手机号
  StorageUpload: WxApiRoot + 'storage/upload' // 上传头像
};
