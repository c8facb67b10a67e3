// User-mode networking for a VM (`--net user`), as QEMU's `-netdev user` and libvirt's passt backend give it:
// Debian's passt, started by tvisor for the VM, gives the guest an address by DHCP, DNS, TCP and UDP to the
// host's network through the host's own sockets (no root, no TAP device), and forwards host ports into the
// guest. It speaks the stream tvisor's socket NICs already speak (frames with a 4-byte big-endian length) over a
// UNIX socket in a private directory; tvisor connects to it and ends it with the VM. Traffic to the gateway's
// address reaches the host itself (passt maps it to the host's loopback).
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetBackend } from '../../core/virtio/net/backend.js';
import { ConnectBackend, NetError, describe } from './net-socket.js';
import type { PortForward } from '../../hypervisor/machine.js';


/** How long passt has to bind its socket and ports. */
const START_MS = 10_000;

/**
 * Who passt runs as when tvisor is root: it will not stay root, and changes to nobody (Debian's 65534:65534);
 * it makes its socket after that, so the private directory is handed to that user.
 */
const NOBODY = 65534;

/** The passt arguments for these forwards: -t/-u ADDR/HOSTPORT:GUESTPORT each. */
export function passtArgs(socket: string, forwards: readonly PortForward[], root = false): string[] {
  const args = ['--foreground', '--stderr', '--socket', socket];
  if (root) args.push('--runas', `${NOBODY}:${NOBODY}`);
  for (const f of forwards) args.push(f.proto === 'tcp' ? '--tcp-ports' : '--udp-ports', `${f.hostAddr}/${f.hostPort}:${f.guestPort}`);
  return args;
}

/**
 * Starts passt for one NIC and connects to it; rejects with a NetError naming the cause (passt missing: which
 * package to install; a forwarded port in use: passt's own words).
 */
export async function startPasst(forwards: readonly PortForward[], o: { warn(line: string): void; binary?: string }): Promise<NetBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'tvisor-passt-'));
  const root = process.getuid?.() === 0;
  if (root) chownSync(dir, NOBODY, NOBODY);
  const socket = join(dir, 'net.sock');
  const label = `user${forwards.length ? ` (${forwards.map((f) => `${f.proto}:${f.hostAddr}:${f.hostPort}-:${f.guestPort}`).join(', ')})` : ''}`;
  let child: ChildProcess | undefined;
  let output = '';
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const c = spawn(o.binary ?? 'passt', passtArgs(socket, forwards, root), { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      c.once('error', (e: NodeJS.ErrnoException) => reject(new NetError(e.code === 'ENOENT'
        ? 'net user: user-mode networking needs passt, which is not installed (apt-get install passt)'
        : `net user: cannot start passt: ${e.message}`)));
      c.once('exit', (code, signal) => reject(new NetError(`net ${label}: passt ended (${signal ?? `exit code ${code}`}): ${lastError(output)}`)));
      const poll = () => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        if (existsSync(socket)) return resolve();
        if (Date.now() - started > START_MS) return reject(new NetError(`net ${label}: passt did not open its socket within ${START_MS / 1000} s`));
        setTimeout(poll, 20);
      };
      poll();
    });
  } catch (e) {
    child?.kill('SIGKILL');
    cleanup();
    throw e;
  }
  child.removeAllListeners('exit');
  let sock: net.Socket;
  try {
    sock = await connectWhenListening(socket, child, START_MS, label);
  } catch (e) {
    child.kill('SIGKILL');
    cleanup();
    throw e;
  }
  sock.removeAllListeners('error');
  const stream = new ConnectBackend(`${label} (passt)`, o.warn, sock);
  let closed = false;
  // passt ends with this process however it ends: the VM closing its devices, tvisor exiting, or a signal whose
  // default action would end tvisor without running anything (then re-raised once passt is told)
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    end();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const end = () => {
    process.off('exit', end);
    for (const sig of signals) process.off(sig, onSignal);
    child.kill('SIGTERM');
    cleanup();
  };
  process.once('exit', end);
  for (const sig of signals) process.on(sig, onSignal);
  child.once('exit', (code, signal) => {
    cleanup();
    if (!closed) o.warn(`net ${label}: passt ended (${signal ?? `exit code ${code}`}); the NIC is unplugged: ${lastError(output)}`);
  });
  return {
    send: (frame) => stream.send(frame),
    setReceiver: (fn) => stream.setReceiver(fn),
    close: () => {
      closed = true;
      stream.close();
      end();
    },
  };
}

/**
 * Connects to passt's socket. The file appears when passt binds it, a moment before it listens: a connection
 * refused in between (seen on a loaded CI machine) is tried again while passt lives, for up to `ms`.
 */
async function connectWhenListening(path: string, child: ChildProcess, ms: number, label: string): Promise<net.Socket> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ path }, () => resolve(s));
        s.once('error', reject);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const early = code === 'ECONNREFUSED' || code === 'ENOENT';
      if (!early || Date.now() > until || child.exitCode !== null || child.signalCode !== null) {
        throw new NetError(`net ${label}: cannot connect to passt: ${describe(e as Error)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** passt's last line that says something went wrong (its banner and notes are not errors). */
function lastError(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l && !/^Failed to send \d+ bytes to syslog/.test(l));
  const bad = lines.filter((l) => /fail|error|cannot|can't|couldn't|in use|invalid|not /i.test(l));
  return (bad.at(-1) ?? lines.at(-1) ?? 'no output').slice(0, 300);
}
