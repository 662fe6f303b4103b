'use strict';
// oactl.js: starts and stops real oactl processes for the harness.
//
// The binary is $OACTL_BIN, else built once with `go build` into a temp
// directory. Processes listen on free loopback ports, are waited for until
// their health endpoints answer, and are stopped by PID with a bounded wait
// (SIGTERM, then SIGKILL).

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const DEV_APPID = 'wxoactldev00000000';
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;
const LOG_LIMIT = 256 * 1024;

let binaryPromise = null;

// oactlBinary resolves with the path of an oactl binary.
function oactlBinary() {
  if (process.env.OACTL_BIN) {
    return Promise.resolve(path.resolve(process.env.OACTL_BIN));
  }
  if (!binaryPromise) {
    binaryPromise = new Promise((resolve, reject) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oactl-bin-'));
      const out = path.join(dir, 'oactl');
      execFile('go', ['build', '-o', out, './cmd/oactl'], { cwd: REPO, timeout: 300000 }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error('go build ./cmd/oactl: ' + err.message + '\n' + stderr));
          return;
        }
        resolve(out);
      });
    });
  }
  return binaryPromise;
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before oactl binds it; start() retries on that.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// run runs oactl to completion (e.g. `migrate up`) and resolves with its output.
async function run(args, { env, timeoutMs = 60000 } = {}) {
  const bin = await oactlBinary();
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: Object.assign({}, process.env, env || {}), timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error('oactl ' + args[0] + ' ' + (args[1] || '') + ': ' + err.message + '\n' + stderr));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

// Proc is a started oactl process.
class Proc {
  constructor(child, name) {
    this.child = child;
    this.name = name;
    this.pid = child.pid;
    this.log = '';
    this.exited = null;
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
    });
    const append = (d) => {
      if (this.log.length < LOG_LIMIT) {
        this.log += d.toString('utf8');
      }
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
  }

  // stop sends SIGTERM to the PID, waits up to 5 s, then SIGKILL.
  async stop() {
    if (this.exited) {
      return this.exited;
    }
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch (e) {
      return this.exitPromise;
    }
    const timer = new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS, 'timeout'));
    if ((await Promise.race([this.exitPromise, timer])) === 'timeout') {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch (e) {
        // already gone
      }
    }
    return this.exitPromise;
  }
}

// start spawns oactl with args and waits until every URL in health answers
// 200 (each entry is a list of alternatives). It fails early with the
// process's log when the process exits first.
async function start(name, args, health, { env } = {}) {
  const bin = await oactlBinary();
  const child = spawn(bin, args, {
    env: Object.assign({}, process.env, env || {}),
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const proc = new Proc(child, name);
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    for (const alternatives of health) {
      await waitHealthy(proc, [].concat(alternatives), deadline);
    }
  } catch (e) {
    await proc.stop();
    throw new Error(name + ': ' + e.message + '\n--- log ---\n' + proc.log);
  }
  return proc;
}

async function waitHealthy(proc, urls, deadline) {
  for (;;) {
    if (proc.exited) {
      throw new Error('exited early (' + JSON.stringify(proc.exited) + ')');
    }
    for (const url of urls) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) {
          return;
        }
      } catch (e) {
        // not up yet
      }
    }
    if (Date.now() > deadline) {
      throw new Error('not healthy in time: ' + urls.join(' or '));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// withRetry retries a start whose free port was taken in the meantime.
async function withRetry(fn) {
  let last;
  for (let i = 0; i < 3; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      if (!/address already in use/i.test(e.message)) {
        throw e;
      }
    }
  }
  throw last;
}

// startDev starts `oactl dev` (serve and mockwx in one process) on free
// ports with a temp SQLite file and storage directory; config is the text
// of a YAML file it is given with --config (more apps, say).
async function startDev({ config } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oactl-mp-'));
  return withRetry(async () => {
    const apiPort = await freePort();
    const mockPort = await freePort();
    const api = 'http://127.0.0.1:' + apiPort;
    const mockwx = 'http://127.0.0.1:' + mockPort;
    const args = [
      'dev',
      '--addr', '127.0.0.1:' + apiPort,
      '--mockwx-addr', '127.0.0.1:' + mockPort,
      '--db', 'sqlite:' + path.join(tmp, 'oactl.db'),
      '--storage-dir', path.join(tmp, 'files')
    ];
    if (config) {
      const file = path.join(tmp, 'oactl.yml');
      fs.writeFileSync(file, config, { mode: 0o600 });
      args.push('--config', file);
    }
    const proc = await start('oactl dev', args, [api + '/healthz', [mockwx + '/__mock/healthz', mockwx + '/healthz']]);
    return {
      api,
      mockwx,
      appid: DEV_APPID,
      proc,
      tmp,
      async stop() {
        await proc.stop();
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    };
  });
}

// startMockwx starts `oactl mockwx` on a free port.
async function startMockwx({ appid = DEV_APPID, secret } = {}) {
  return withRetry(async () => {
    const port = await freePort();
    const url = 'http://127.0.0.1:' + port;
    const args = ['mockwx', '--addr', '127.0.0.1:' + port, '--appid', appid];
    // Secrets have no flag (a flag shows in ps): the environment carries it.
    const env = secret ? { OA_WX_APP_SECRET: secret } : {};
    const proc = await start('oactl mockwx', args, [[url + '/__mock/healthz', url + '/healthz']], { env });
    return { url, proc };
  });
}

// startServe starts `oactl serve` on a free port.
async function startServe({ db, wxBaseURL, appid = DEV_APPID, config, storageDir, env }) {
  return withRetry(async () => {
    const port = await freePort();
    const url = 'http://127.0.0.1:' + port;
    const args = ['serve', '--addr', '127.0.0.1:' + port, '--db', db, '--wx-base-url', wxBaseURL, '--appid', appid];
    if (config) {
      args.push('--config', config);
    }
    if (storageDir) {
      args.push('--storage-dir', storageDir);
    }
    const proc = await start('oactl serve', args, [url + '/healthz'], { env });
    return { url, proc };
  });
}

// mintCode asks mockwx for a code of user (what wx.login, or WeChat's
// getPhoneNumber button, would hand the mini-program).
async function mintCode(mockwx, user, appid) {
  const body = { user };
  if (appid) {
    body.appid = appid;
  }
  const res = await fetch(mockwx + '/__mock/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000)
  });
  if (res.status !== 200) {
    throw new Error('mockwx /__mock/login: HTTP ' + res.status + ' ' + (await res.text()));
  }
  return (await res.json()).code;
}

module.exports = { oactlBinary, freePort, run, start, startDev, startMockwx, startServe, mintCode, DEV_APPID, REPO };
