// Node network backends that link two tvisor processes like QEMU's `-netdev socket`: Ethernet frames over
// one TCP connection, each preceded by its length as a 4-byte big-endian integer; plus the --net parser.
import * as net from 'node:net';
import { MAX_FRAME, type NetBackend } from '../../core/virtio/net/backend.js';
import { formatMac, parseMac } from '../../core/virtio/net/net.js';

/** A network option or connection problem the user can fix; the message says what and where. */
export class NetError extends Error {
  override name = 'NetError';
}

/** A parsed `socket-listen=HOST:PORT[,mac=MAC]` or `socket-connect=HOST:PORT[,mac=MAC]`. */
export interface NetSpec {
  mode: 'listen' | 'connect';
  /** A host name, IPv4 address or IPv6 address (without brackets). */
  host: string;
  port: number;
  /** Normalised "52:54:00:12:34:56" when given (already checked by parseMac). */
  mac?: string;
}

export interface SocketBackendOptions {
  /** Problems that do not stop the VM (a peer leaving, a corrupt stream); default: ignored. */
  onWarning?: (message: string) => void;
}

export interface SocketStats {
  framesIn: number;
  framesOut: number;
  /** Frames to send that were dropped: no peer, or the peer is not reading (send queue full). */
  drops: number;
}

/** Bytes queued on a socket the peer does not drain, beyond which frames are dropped like a full NIC ring. */
const MAX_QUEUED = 4 * 1024 * 1024;
/** Pause between connection attempts within connectSocketBackend's retry window. */
const RETRY_PAUSE_MS = 100;
/** One connection attempt gives up after this long (a silently dropping firewall never refuses). */
const CONNECT_TIMEOUT_MS = 5000;

const endpoint = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** Turns a Node socket error into a few words for a user. */
export function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'EADDRINUSE': return 'address already in use (another process listens on that port)';
    case 'EADDRNOTAVAIL': return 'address not available on this host';
    case 'EACCES': return 'permission denied (ports below 1024 need privileges)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host not found';
    case 'ETIMEDOUT': return 'timed out';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
    case 'ECONNRESET': return 'connection reset by peer';
    default: return (e as Error)?.message ?? String(e);
  }
}

/**
 * Splits a byte stream into length-prefixed frames, across any chunking. A length of 0 or above MAX_FRAME
 * means the stream is corrupt (or not tvisor at all): push() then returns a reason and the caller hangs up.
 */
class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Length of the frame being assembled, or -1 while its 4-byte prefix is still incomplete. */
  private need = -1;

  push(chunk: Uint8Array, emit: (frame: Uint8Array) => void): string | null {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return null;
        const p = this.take(4);
        const len = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
        if (len === 0 || len > MAX_FRAME) return `peer sent a frame length of ${len} (must be 1 to ${MAX_FRAME})`;
        this.need = len;
      }
      if (this.buffered < this.need) return null;
      const frame = this.take(this.need);
      this.need = -1;
      emit(frame);
    }
  }

  /** Removes n buffered bytes: a view when they lie in one chunk (the usual case), else a copy. */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - o);
      out.set(c.subarray(0, k), o);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/** The frame-carrying side shared by both modes: at most one live connection at a time. */
class SocketBackend implements NetBackend {
  readonly stats: SocketStats = { framesIn: 0, framesOut: 0, drops: 0 };
  protected sock: net.Socket | null = null;
  protected closed = false;
  private receiver: ((frame: Uint8Array) => void) | null = null;

  constructor(
    /** "socket-listen=127.0.0.1:1234", the prefix of every message. */
    readonly label: string,
    protected readonly warn: (message: string) => void,
  ) {}

  get connected(): boolean {
    return this.sock !== null;
  }

  setReceiver(receive: (frame: Uint8Array) => void): void {
    this.receiver = receive;
  }

  send(frame: Uint8Array): void {
    const s = this.sock;
    if (!s || frame.length === 0 || frame.length > MAX_FRAME || s.writableLength > MAX_QUEUED) {
      this.stats.drops++;
      return;
    }
    // one write per frame: prefix and frame in one buffer, so a frame is never interleaved or half-queued
    const buf = Buffer.allocUnsafe(4 + frame.length);
    buf.writeUInt32BE(frame.length, 0);
    buf.set(frame, 4);
    s.write(buf);
    this.stats.framesOut++;
  }

  close(): void {
    this.closed = true;
    this.sock?.destroy();
    this.sock = null;
  }

  /** Takes over a connected socket; `onGone` runs once when it closes for any reason. */
  protected adopt(s: net.Socket, onGone: () => void): void {
    this.sock = s;
    s.setNoDelay(true); // frames are latency-sensitive (TCP acks, ping); the guest does its own batching
    const reader = new FrameReader();
    const deliver = (frame: Uint8Array) => {
      this.stats.framesIn++;
      try {
        this.receiver?.(frame);
      } catch (e) {
        this.warn(`net ${this.label}: receiver failed: ${(e as Error)?.message ?? String(e)}`);
      }
    };
    s.on('data', (chunk: Buffer) => {
      if (this.sock !== s) return;
      const bad = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), deliver);
      if (bad) {
        this.warn(`net ${this.label}: ${bad}; dropping the connection`);
        s.destroy();
      }
    });
    s.on('error', (e) => {
      if (!this.closed) this.warn(`net ${this.label}: ${describe(e)}`);
    });
    s.on('close', () => {
      if (this.sock === s) this.sock = null;
      if (!this.closed) onGone();
    });
  }
}

class ListenBackend extends SocketBackend {
  constructor(
    label: string,
    warn: (message: string) => void,
    private readonly server: net.Server,
  ) {
    super(label, warn);
    server.on('connection', (s) => this.accept(s));
    server.on('error', (e) => this.warn(`net ${this.label}: ${describe(e)}`));
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(s: net.Socket): void {
    const who = endpoint(s.remoteAddress ?? '?', s.remotePort ?? 0);
    if (this.closed || this.sock) {
      // a link has two ends: a second peer would see half the traffic, so it is refused
      if (!this.closed) this.warn(`net ${this.label}: refused ${who}: a peer is already connected`);
      s.on('error', () => {});
      s.destroy();
      return;
    }
    this.adopt(s, () => this.warn(`net ${this.label}: peer ${who} disconnected; waiting for the next one`));
  }

  override close(): void {
    super.close();
    this.server.close();
  }
}

export class ConnectBackend extends SocketBackend {
  constructor(label: string, warn: (message: string) => void, s: net.Socket) {
    super(label, warn);
    this.adopt(s, () => this.warn(`net ${this.label}: peer disconnected; frames are dropped from now on`));
  }
}

/**
 * Listens on HOST:PORT (port 0 picks a free one, see `.port`) and carries frames over the one connection
 * accepted at a time; frames sent while nobody is connected are dropped, as on an unplugged cable.
 */
export async function listenSocketBackend(
  host: string,
  port: number,
  opts: SocketBackendOptions = {},
): Promise<NetBackend & { readonly port: number; readonly connected: boolean; readonly stats: SocketStats }> {
  const label = `socket-listen=${endpoint(host, port)}`;
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new NetError(`net ${label}: ${describe(e)}`)));
    server.listen({ host, port, exclusive: true }, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  return new ListenBackend(label, opts.onWarning ?? (() => {}), server);
}

/**
 * Connects to a socket-listen peer at HOST:PORT, trying again every 100 ms for up to `retryMs` (default 0:
 * one attempt) so two VMs can be started together. Rejects with NetError when no connection is made.
 */
export async function connectSocketBackend(
  host: string,
  port: number,
  opts: SocketBackendOptions & { retryMs?: number } = {},
): Promise<NetBackend & { readonly connected: boolean; readonly stats: SocketStats }> {
  const label = `socket-connect=${endpoint(host, port)}`;
  const deadline = Date.now() + Math.max(0, opts.retryMs ?? 0);
  for (;;) {
    try {
      const s = await attempt(host, port);
      return new ConnectBackend(label, opts.onWarning ?? (() => {}), s);
    } catch (e) {
      const retryable = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'].includes((e as NodeJS.ErrnoException)?.code ?? '');
      const left = deadline - Date.now();
      if (!retryable || left <= 0) {
        const hint = (e as NodeJS.ErrnoException)?.code === 'ECONNREFUSED' ? ' (start the socket-listen side first)' : '';
        throw new NetError(`net ${label}: ${describe(e)}${hint}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(RETRY_PAUSE_MS, left)));
    }
  }
}

function attempt(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const fail = (e: Error) => {
      s.destroy();
      reject(e);
    };
    s.setTimeout(CONNECT_TIMEOUT_MS, () => fail(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    s.once('error', fail);
    s.once('connect', () => {
      s.setTimeout(0);
      s.removeListener('error', fail);
      resolve(s);
    });
  });
}

const SPEC_HELP = 'expected socket-listen=HOST:PORT or socket-connect=HOST:PORT, optionally followed by ,mac=52:54:00:12:34:56 (IPv6 hosts in brackets)';

/** Parses a --net value; throws NetError saying what is wrong and what is expected. */
export function parseNetSpec(text: string): NetSpec {
  const bad = (why: string) => new NetError(`invalid --net '${text}': ${why}; ${SPEC_HELP}`);
  const m = /^socket-(listen|connect)=([^,]*)((?:,.*)?)$/.exec(text);
  if (!m) throw bad('unknown kind');
  const mode = m[1] as 'listen' | 'connect';
  const addr = m[2];
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0 || addr[close + 1] !== ':') throw bad('an IPv6 address needs the form [ADDR]:PORT');
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
    if (!net.isIPv6(host)) throw bad(`'${host}' is not an IPv6 address`);
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) throw bad('missing :PORT');
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (host.includes(':')) throw bad('put an IPv6 address in brackets, e.g. [::1]:1234');
    if (!host) throw bad('missing host (use 127.0.0.1 for this machine only, 0.0.0.0 for all interfaces)');
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) throw bad(`'${host}' is not a host name or IPv4 address`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad(`port '${portText}' is not a number from 0 to 65535`);
  const port = Number(portText);
  if (mode === 'connect' && port === 0) throw bad('port 0 can only be used with socket-listen');
  const spec: NetSpec = { mode, host, port };
  for (const opt of m[3] ? m[3].slice(1).split(',') : []) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    if (key !== 'mac' || eq < 0) throw bad(`unknown setting '${opt}'`);
    if (spec.mac !== undefined) throw bad('mac= given twice');
    try {
      spec.mac = formatMac(parseMac(opt.slice(eq + 1)));
    } catch (e) {
      throw bad((e as Error).message);
    }
  }
  return spec;
}
