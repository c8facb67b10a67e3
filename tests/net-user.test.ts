// User-mode networking (issue 17, item 1) with the default Debian guest under `tvisor run --net user`, through
// Debian's passt: the guest gets an address by DHCP, fetches a file from an HTTP server this test runs on the
// host (through the gateway's address, which passt maps to the host), and serves one through a forwarded port
// that this test fetches; passt ends with the VM. The same for a daemon's VM (a NIC of mode user with
// forwards). Bad input: passt missing, a forwarded port in use — one clear error each.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { guestFixture, runGuest, startGuest, type GuestFixture } from './lib/guest.js';
import { freePort, hasTool } from './lib/toolchain.js';
import { startDaemon, stopDaemon, api, collectConsole, waitFor } from './lib/daemon.js';

const skip = hasTool('passt') ? false : process.env.CI === 'true' ? false : 'passt is not installed (apt-get install passt)';
let fx: GuestFixture;

before(async () => {
  if (!skip) fx = await guestFixture('net-user');
});

/** The guest's DHCP client script: configures eth0 and the default route from the lease (busybox udhcpc). */
const DHCP = `cat > /tmp/dhcp.sh <<'X'
#!/bin/sh
case "$1" in bound|renew) ifconfig $interface $ip netmask \${subnet:-255.255.255.0} up; route add default gw $router; echo $router > /tmp/router; echo "dhcp: $ip via $router";; esac
X
chmod +x /tmp/dhcp.sh
ifconfig eth0 up
udhcpc -i eth0 -n -q -s /tmp/dhcp.sh
`;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** passt processes serving a socket under this test's temporary directories, by pid. */
function passts(): string[] {
  try {
    return execFileSync('pgrep', ['-f', 'passt --foreground'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

test('--net user: DHCP, a file fetched from the host, and a forwarded port into the guest; passt ends with the VM', { skip }, async () => {
  const http = createServer((req, res) => res.end(req.url === '/hello.txt' ? 'hello from the host over passt\n' : 'no\n'));
  const port = await listen(http);
  const fwd = await freePort();
  const before = passts();
  const initrd = fx.initrdWith(`${DHCP}
wget -q -O - http://$(cat /tmp/router):${port}/hello.txt
mkdir -p /www && echo "served by the guest" > /www/index.html
httpd -p 8080 -h /www
echo "guest httpd up"
sleep 600
`, 'net-user');
  const g = startGuest(['--kernel', fx.guest.kernel, '--initrd', initrd, '--net', `user,hostfwd=tcp::${fwd}-:8080`], 600_000);
  let out = '';
  g.child.stdout!.on('data', (d) => (out += d));
  try {
    const end = Date.now() + 300_000;
    while (!/guest httpd up/.test(out)) {
      if (g.child.exitCode !== null || Date.now() > end) assert.fail(`the guest did not get to its httpd:\n${out}\n${(await g.done).err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(out, /dhcp: \d+\.\d+\.\d+\.\d+ via \d+\.\d+\.\d+\.\d+/);
    assert.match(out, /hello from the host over passt/);
    // the forwarded port, from the host (the guest's httpd may need a moment after it started)
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${fwd}/`, { signal: AbortSignal.timeout(15_000) }).then((r) => r.text()).catch(() => '');
      if (body === '') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(body, 'served by the guest\n');
  } finally {
    g.child.kill('SIGTERM');
    await g.done;
    http.close();
  }
  // tvisor ended its passt: no passt is left that was not there before
  const end = Date.now() + 30_000;
  while (passts().some((p) => !before.includes(p)) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(passts().filter((p) => !before.includes(p)), [], 'passt ended with the VM');
});

test('--net user: a missing passt and a forwarded port in use are one clear error each', { skip }, async () => {
  // a PATH with node alone: no passt on it
  const bin = mkdtempSync(join(tmpdir(), 'tvisor-nopasst-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  const missing = await runGuest(['--kernel', fx.guest.kernel, '--initrd', fx.guest.initrd, '--net', 'user'], 120_000, { PATH: bin });
  assert.notEqual(missing.status, 0);
  assert.match(missing.err, /user-mode networking needs passt, which is not installed \(apt-get install passt\)/);
  const busy = createTcpServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const taken = (busy.address() as AddressInfo).port;
  try {
    const r = await runGuest(['--kernel', fx.guest.kernel, '--initrd', fx.guest.initrd, '--net', `user,hostfwd=tcp::${taken}-:22`], 120_000);
    assert.notEqual(r.status, 0);
    assert.match(r.err, new RegExp(`net user \\(tcp:127\\.0\\.0\\.1:${taken}-:22\\): passt ended \\(exit code \\d+\\): .*${taken}`));
  } finally {
    busy.close();
  }
});

test('a daemon VM with a user-mode NIC serves through its forwarded port; a forward in use crashes its start with the reason', { skip }, async () => {
  const d = await startDaemon(join(fx.work, 'state'), ['--allow-dir', fx.work, '--allow-dir', fx.guest.dir]);
  const busy = createTcpServer();
  try {
    const fwd = await freePort();
    const initrd = fx.initrdWith(`${DHCP}
mkdir -p /www && echo "served by the daemon's guest" > /www/index.html
httpd -p 8080 -h /www
echo "guest httpd up"
sleep 600
`, 'net-user-daemon');
    const r = await api(d, 'POST', '/v1/vms', {
      name: 'user-net', kernel: fx.guest.kernel, initrd, memory_mib: 128, nics: [{ mode: 'user', forwards: [{ host_port: fwd, guest_port: 8080 }] }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.deepEqual(r.json.config.nics[0].forwards, [{ proto: 'tcp', host_addr: '127.0.0.1', host_port: fwd, guest_port: 8080 }]);
    const con = await collectConsole(d, r.json.id);
    assert.equal((await api(d, 'POST', `/v1/vms/${r.json.id}/start`)).status, 200);
    await con.waitFor(/guest httpd up/);
    assert.match(con.text(), /dhcp: \d+\.\d+\.\d+\.\d+ via/);
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${fwd}/`, { signal: AbortSignal.timeout(15_000) }).then((x) => x.text()).catch(() => '');
      if (body === '') await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(body, "served by the daemon's guest\n");
    con.close();
    assert.equal((await api(d, 'POST', `/v1/vms/${r.json.id}/stop`)).status, 200);
    // a forwarded port another program holds: the VM's start ends crashed, saying why
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
    const taken = (busy.address() as AddressInfo).port;
    const bad = await api(d, 'POST', '/v1/vms', {
      name: 'user-busy', kernel: fx.guest.kernel, initrd: fx.guest.initrd, memory_mib: 64, nics: [{ mode: 'user', forwards: [{ host_port: taken, guest_port: 22 }] }],
    });
    assert.equal(bad.status, 201);
    assert.equal((await api(d, 'POST', `/v1/vms/${bad.json.id}/start`)).status, 200);
    const crashed = await waitFor(d, bad.json.id, (v) => v.state === 'crashed', 'the VM with a taken port crashes');
    assert.match(crashed.reason, new RegExp(`passt ended .*${taken}`));
  } finally {
    busy.close();
    await stopDaemon(d);
  }
});
