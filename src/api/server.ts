// The daemon's HTTP server (node:http): reads a request (bounded), parses it into a VmAction, checks file
// paths against the allowed directories, runs it on the VM manager (dispatch.ts), and answers JSON — errors as
// {error: {code, message}}. Also the console WebSocket, the streams of console output, events and stats
// (streams.ts), a migration's receiving end, and the web console's files (web-assets.ts).
// Hostile clients are bounded: body size (413), header and request timeouts, a cap on connections.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FLASH_BANK_SIZE } from '../core/devices/cfi-flash.js';
import type { Duplex } from 'node:stream';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseRequest, parseVmSpec, checkAllowedPaths, checkPathsAllowed, specPaths, MAX_BODY_BYTES, type VmSpec } from './actions.js';
import { machineFiles } from '../hypervisor/machine.js';
import type { MigrationMessage } from '../hypervisor/migration.js';
import { checkConfined, FileRefused } from '../host/node/confined-open.js';
import { ApiError, payloadTooLarge, toApiError, toBody, unauthorized, fileMissing, fileOutside, fileUnusable, forbiddenOrigin, noRoute, methodNotAllowed } from '../hypervisor/errors.js';
import type { VmManager } from '../hypervisor/manager.js';
import { ConsoleClientQueue } from '../hypervisor/console-client.js';
import { serveEvents, serveLogs, serveStats } from './streams.js';
import { runAction, type ActionHost } from './dispatch.js';
import { isWebPath, WebAssets } from './web-assets.js';
import type { GuestImageInfo } from '../hypervisor/model.js';

export interface ApiServerOptions {
  manager: VmManager;
  allowedDirs: string[];
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Open connections (console WebSockets included) beyond which new ones are refused; default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Seconds a client has to send a whole request; default DEFAULT_REQUEST_TIMEOUT_S. */
  requestTimeoutS?: number;
  log(line: string): void;
  /** When set, gets one line per request answered: method, path (no query), status, milliseconds taken. */
  requestLog?(line: string): void;
  /** GET /v1/images: the guests the daemon can boot from its image cache (none when absent). */
  images?(): Promise<GuestImageInfo[]>;
  /** The web console's files; default: the build's (dist/web). */
  web?: WebAssets;
}

export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_REQUEST_TIMEOUT_S = 30;
/** Headers must be complete this soon (or within the request timeout if shorter): a slowloris client is cut off. */
const HEADERS_TIMEOUT_S = 10;
/** An idle keep-alive connection is closed after this long. */
const KEEP_ALIVE_TIMEOUT_S = 5;
/**
 * An oversized body up to this size is read and thrown away before the 413, so the client (still sending)
 * gets the answer and not a connection reset; beyond it the daemon answers at once and closes the connection.
 */
const DRAIN_LIMIT = 16 * 2 ** 20;

/** The client went away before its request was whole: there is nobody to answer. */
class ClientGone extends Error {
  override name = 'ClientGone';
}

/** A 413 whose body was not read to its end: the connection cannot carry another request. */
class TooLargeUnread extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

function declaredLength(req: IncomingMessage): number | undefined {
  const n = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The request body as text (undefined when empty), at most MAX_BODY_BYTES. A bigger one is drained (up to
 * DRAIN_LIMIT) and rejected with payload_too_large; a client that disconnects first rejects with ClientGone.
 */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > DRAIN_LIMIT) {
      reject(new TooLargeUnread(payloadTooLarge(declared, MAX_BODY_BYTES)));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (f: () => void) => {
      if (!settled) f();
      settled = true;
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DRAIN_LIMIT) settle(() => reject(new TooLargeUnread(payloadTooLarge(size, MAX_BODY_BYTES))));
      else if (size <= MAX_BODY_BYTES) chunks.push(c);
      else chunks.length = 0; // over the limit: keep reading, keep nothing
    });
    req.on('end', () => settle(() => {
      if (size > MAX_BODY_BYTES) reject(payloadTooLarge(size, MAX_BODY_BYTES));
      else resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8'));
    }));
    const gone = () => settle(() => reject(new ClientGone(`${size}${declared === undefined ? '' : ` of ${declared}`} bytes of the body had arrived`)));
    req.on('aborted', gone);
    req.on('error', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
  });
}

/** Compares `Authorization` with the token in constant time (over fixed-length digests, so not even the length leaks). */
function tokenChecker(token: string | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  const want = digest(`Bearer ${token}`);
  return (authorization) => timingSafeEqual(digest(authorization ?? ''), want) && authorization !== undefined;
}

/**
 * The subprotocol a browser's WebSocket offers to carry the token (browsers cannot set Authorization on a
 * WebSocket): `tvisor.bearer.<the token in base64url>`, offered beside `tvisor`, which the server selects.
 */
export const WS_PROTOCOL = 'tvisor';
const WS_BEARER_PREFIX = 'tvisor.bearer.';

/** The Authorization value a WebSocket's offered subprotocols carry, if any. */
export function bearerFromProtocols(header: string | undefined): string | undefined {
  for (const p of (header ?? '').split(',')) {
    const entry = p.trim();
    if (entry.startsWith(WS_BEARER_PREFIX)) return `Bearer ${Buffer.from(entry.slice(WS_BEARER_PREFIX.length), 'base64url').toString('utf8')}`;
  }
  return undefined;
}

/** A Host header that names this host by address (or localhost), which no other site's DNS name can be. */
function isAddressHost(host: string): boolean {
  const name = /^\[([^\]]+)\](?::\d+)?$/.exec(host)?.[1] ?? host.replace(/:\d+$/, '');
  return name === 'localhost' || isIP(name) !== 0;
}

/**
 * Refuses an API request a web page of another origin made: browsers send Origin (cross-origin requests, every
 * WebSocket) or Sec-Fetch-Site, which must say the daemon's own page; other clients send neither. Without a
 * token, the page must also have been loaded by address (DNS rebinding: another site's name pointed at this
 * host would make its page same-origin).
 */
export function checkBrowserOrigin(headers: IncomingMessage['headers'], tokenSet: boolean): void {
  const origin = headers.origin;
  const site = headers['sec-fetch-site'];
  if (origin === undefined && site === undefined) return;
  const host = headers.host ?? '';
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    throw forbiddenOrigin(`its origin ${JSON.stringify(origin.slice(0, 100))} is not this daemon's (${JSON.stringify(host.slice(0, 100))})`);
  }
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw forbiddenOrigin(`Sec-Fetch-Site is ${JSON.stringify(String(site).slice(0, 20))}`);
  if (!tokenSet && !isAddressHost(host)) {
    throw forbiddenOrigin(`the page was loaded as ${JSON.stringify(host.slice(0, 100))}, a host name rather than an address; open the console by address (e.g. http://127.0.0.1:PORT/) or give the daemon a token`);
  }
}

/**
 * Logs at most one line of each kind every `intervalMs`, so that a client misbehaving in a loop cannot flood
 * the daemon's log: the first line of a kind is logged at once, the ones after it within the interval are
 * summed up in one line (the last of them, with a count) when it ends.
 */
export function rateLimitedLog(log: (line: string) => void, intervalMs = 10_000) {
  const kinds = new Map<string, { suppressed: number; last: string; timer: ReturnType<typeof setTimeout> }>();
  const open = (kind: string) => {
    const timer = setTimeout(() => {
      const k = kinds.get(kind)!;
      kinds.delete(kind);
      if (k.suppressed === 0) return;
      const more = k.suppressed > 1 ? ` (and ${k.suppressed - 1} more like it in the last ${intervalMs / 1000} s)` : '';
      log(`${k.last}${more}`);
      open(kind); // a new interval: the next line of this kind waits for its end too
    }, intervalMs);
    timer.unref?.();
    kinds.set(kind, { suppressed: 0, last: '', timer });
  };
  return (kind: string, line: string) => {
    const k = kinds.get(kind);
    if (k) {
      k.suppressed++;
      k.last = line;
      return;
    }
    log(line);
    open(kind);
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Every file the spec names must exist (an overlay may be missing if its directory exists: it is created at
 * start), be a regular file, and be reachable beneath the allowed directories without symlinks leading out
 * (confined-open.ts; opened read-only, non-blocking, and closed again). Disks must have a usable size.
 * The VM thread checks again at every start, where the files are really opened.
 */
function checkSpecFiles(spec: VmSpec, allowed: readonly string[]): void {
  for (const { field, path } of specPaths(spec)) {
    const overlay = field.endsWith('.overlay');
    let st;
    try {
      st = checkConfined(path, { label: field, allowedDirs: allowed, create: overlay });
    } catch (e) {
      if (!(e instanceof FileRefused)) throw e;
      if (e.kind === 'missing') throw fileMissing(field, path, e.detail);
      if (e.kind === 'outside') throw fileOutside(field, path, e.detail);
      throw fileUnusable(field, path, e.detail);
    }
    if (st && field.startsWith('disks[') && !overlay && (st.size === 0n || st.size % 512n !== 0n)) {
      throw fileUnusable(field, path, `its size (${st.size} bytes) is not a whole, non-zero number of 512-byte sectors; resize it, e.g. truncate -s 1G`);
    }
    if (st && field.startsWith('flash.') && st.size > BigInt(FLASH_BANK_SIZE)) {
      throw fileUnusable(field, path, `its ${st.size} bytes do not fit a flash bank of ${FLASH_BANK_SIZE} bytes`);
    }
  }
}

/** Largest message of a migration from another daemon (a batch of pages: the sender sends at most 16 MiB each). */
const MIGRATION_MAX_MESSAGE = 17 * 2 ** 20;

/**
 * The receiving end of a migration from another daemon: 'begin' (the VM's definition, checked as POST /v1/vms
 * checks one, and its machine's files), binary batches of pages, then 'final' with the machine's state; answered
 * 'accepted', then 'done' with the VM, or 'error' at the first thing that goes wrong (the connection then ends).
 * Messages are taken one at a time, in order.
 */
function serveIncomingMigration(m: VmManager, ws: WebSocket, allowed: readonly string[], log: (line: string) => void): void {
  const inc = m.incomingMigration();
  let chain = Promise.resolve();
  let over = false;
  const reply = (msg: MigrationMessage) => ws.send(JSON.stringify(msg));
  ws.on('message', (data: Buffer, binary: boolean) => {
    chain = chain.then(async () => {
      if (over) return;
      try {
        if (binary) {
          inc.pages(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
          return;
        }
        const msg = parseMigrationMessage(String(data));
        if (msg.t === 'begin') {
          const spec = parseVmSpec(msg.spec);
          checkAllowedPaths(spec, allowed);
          checkSpecFiles(spec, allowed);
          checkPathsAllowed(machineFiles(msg.machine).map((f) => ({ field: `the machine's ${f.what}`, path: f.path })), allowed);
          // the memory budget and the scheduler count what the definition says: the machine must say the same
          if (msg.machine.memoryBytes !== spec.memory_mib * 2 ** 20 || msg.machine.vcpus !== spec.vcpus) {
            throw new ApiError('bad_request', 'the machine of a migration must have the memory and vCPUs its definition gives');
          }
          await inc.begin({ ...msg, spec });
          reply({ t: 'accepted' });
        } else if (msg.t === 'sync') {
          await inc.sync();
          reply({ t: 'synced' });
        } else if (msg.t === 'final') {
          const vm = await inc.final(msg.state);
          over = true;
          reply({ t: 'done', vm });
          ws.close(1000);
        } else throw new ApiError('bad_request', `a migration does not take a '${msg.t}' message here`);
      } catch (e) {
        const err = toApiError(e);
        if (err.code === 'internal') log(`tvisor: internal error receiving a migration: ${(e as Error)?.stack ?? e}`);
        over = true;
        inc.abort();
        reply({ t: 'error', code: err.code, message: err.message });
        ws.close(1000);
      }
    });
  });
  ws.on('close', () => {
    if (!over) chain = chain.then(() => inc.abort());
  });
}

/** A migration message as JSON text: its shape checked enough for the manager (the definition is parsed after). */
function parseMigrationMessage(text: string): MigrationMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ApiError('bad_request', `a migration message is not JSON (${(e as Error).message})`);
  }
  const o = v as { t?: unknown; machine?: { devices?: unknown; kernel?: unknown }; balloon_mib?: unknown; paused?: unknown } | null;
  if (o?.t === 'begin') {
    if (typeof o.machine !== 'object' || o.machine === null || !Array.isArray(o.machine.devices) || typeof o.machine.kernel !== 'string' ||
      !Number.isInteger(o.balloon_mib) || typeof o.paused !== 'boolean') {
      throw new ApiError('bad_request', 'a migration\'s begin message must give the VM\'s spec, machine, balloon_mib and paused');
    }
  } else if (o?.t !== 'final' && o?.t !== 'sync') throw new ApiError('bad_request', 'a migration message must be begin, sync or final');
  return v as MigrationMessage;
}

/** Largest message a console client may send (a paste); bigger ones close the socket (1009). */
const CONSOLE_MAX_MESSAGE = 64 * 1024;

/** Close code for a console whose VM was deleted (4000-4999: private use, RFC 6455 §7.4.2; 404 as in HTTP). */
const CONSOLE_CLOSE_DELETED = 4404;

/** Answers an upgrade request that is refused with a JSON error, as a plain HTTP response. */
function refuseUpgrade(socket: Duplex, err: ApiError): void {
  const text = `${JSON.stringify(toBody(err))}\n`;
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/**
 * GET /v1/vms/{id}/console as a WebSocket: binary messages are console bytes both ways (text from the
 * client is taken as its UTF-8 bytes); the server also sends text messages `{"event":"state","state":…,
 * "reason"?:…}` when the VM changes state, so a client can say that the guest stopped, and
 * `{"event":"skipped","bytes":N}` when N bytes of output were skipped (a flood, or a client too slow to read:
 * its queue is bounded, see console-client.ts; one whose socket takes nothing for 30 s is closed).
 */
function attachConsoleSocket(m: VmManager, id: string, ws: WebSocket, log: (line: string) => void): void {
  const queue = new ConsoleClientQueue({
    send: (data, done) => {
      if (ws.readyState !== ws.OPEN) return done(new Error('closed'));
      ws.send(data, { binary: typeof data !== 'string' }, (err) => done(err ?? undefined));
    },
    buffered: () => ws.bufferedAmount,
    drop: (reason) => {
      log(`tvisor: console client of VM ${id} dropped: ${reason}`);
      ws.terminate();
    },
    nowMs: () => performance.now(),
  });
  const session = m.attachConsole(id, {
    closed(reason) {
      queue.close();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CONSOLE_CLOSE_DELETED, reason);
    },
    data: (bytes) => queue.data(bytes),
    skipped: (bytes) => queue.skipped(bytes),
    state: (state, reason) => queue.state(state, reason),
  });
  // flow control: the socket is not read while its input waits for the VM (a paused VM holds it back)
  let waiting = 0;
  const taken = () => {
    if (--waiting === 0 && ws.readyState === ws.OPEN) ws.resume();
  };
  ws.on('message', (data) => {
    const chunks = Array.isArray(data) ? data : [data instanceof ArrayBuffer ? Buffer.from(data) : data];
    for (const c of chunks) {
      if (c.length === 0) continue;
      waiting++;
      ws.pause();
      session.input(new Uint8Array(c), taken);
    }
  });
  const end = () => {
    queue.close();
    session.detach();
  };
  ws.on('close', end);
  ws.on('error', end);
}

/**
 * One request-log line. The path is cut at '?' and its control characters escaped, so a client can neither
 * forge log lines nor get a query string logged; the Authorization header (the token) is never looked at.
 */
export function requestLine(method: string | undefined, url: string | undefined, status: number | string, ms: number): string {
  const path = (url ?? '/').split('?')[0].slice(0, 200).replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
  return `tvisor: ${(method ?? '-').slice(0, 16)} ${path} ${status} ${ms.toFixed(1)} ms`;
}

/** Calls `requestLog` with the line of `req` once `res` is sent. */
function logWhenSent(o: ApiServerOptions, req: IncomingMessage, res: ServerResponse): void {
  const log = o.requestLog;
  if (!log) return;
  const t0 = performance.now();
  res.once('finish', () => log(requestLine(req.method, req.url, res.statusCode, performance.now() - t0)));
}

export function createApiServer(o: ApiServerOptions): Server {
  const m = o.manager;
  const authorized = tokenChecker(o.token);
  const note = rateLimitedLog(o.log);
  const requestTimeoutS = o.requestTimeoutS ?? DEFAULT_REQUEST_TIMEOUT_S;
  const web = o.web ?? new WebAssets();
  const actionHost: ActionHost = {
    checkCreate: (spec) => {
      checkAllowedPaths(spec, o.allowedDirs);
      checkSpecFiles(spec, o.allowedDirs);
    },
    images: o.images,
  };
  const wss = new WebSocketServer({
    noServer: true, maxPayload: CONSOLE_MAX_MESSAGE,
    handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  const migrations = new WebSocketServer({ noServer: true, maxPayload: MIGRATION_MAX_MESSAGE });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const peer = req.socket.remoteAddress ?? 'a local client';
    logWhenSent(o, req, res);
    void (async () => {
      try {
        const pathname = (req.url ?? '/').split('?')[0];
        if (isWebPath(pathname)) {
          // the page and its assets hold no secret: served without the token (the page asks for it)
          if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req.method ?? '', pathname, ['GET', 'HEAD']);
          if (web.serve(req, res, pathname)) return;
          if (!web.built && pathname === '/') throw new ApiError('not_found', `the web console is not built (npm run build puts it in ${web.dir})`);
          throw noRoute(pathname);
        }
        checkBrowserOrigin(req.headers, o.token !== undefined);
        const reading = readBody(req);
        if (!authorized(req.headers.authorization)) {
          await reading.catch(() => {}); // read the body first, so that the client gets the 401 (not a reset)
          throw unauthorized();
        }
        const body = await reading;
        const action = parseRequest(req.method ?? 'GET', req.url ?? '/', req.headers['content-type'], body);
        switch (action.kind) {
          case 'migration-incoming': throw new ApiError('bad_request', 'the receiving end of a migration needs a WebSocket upgrade (Upgrade: websocket)');
          case 'logs': serveLogs(m, action, res, o.log); return;
          case 'events': serveEvents(m, req, res, o.log); return;
          case 'stats': serveStats(m, action.intervalMs, req, res, o.log); return;
          case 'console':
            m.inspect(action.id); // 404 for an unknown VM
            throw new ApiError('bad_request', 'the console needs a WebSocket upgrade (Upgrade: websocket)');
          default: {
            const answer = await runAction(m, action, actionHost);
            if (answer.body === undefined) res.writeHead(answer.status).end();
            else send(res, answer.status, answer.body);
          }
        }
      } catch (e) {
        if (e instanceof ClientGone) {
          // the client left, or a timeout cut it off: nobody to answer, nothing wrong in the daemon
          note('gone', `tvisor: the connection from ${peer} ended in the middle of ${req.method} ${req.url}: ${e.message}`);
          return;
        }
        const unread = e instanceof TooLargeUnread;
        const err = toApiError(unread ? e.error : e);
        if (err.code === 'internal') o.log(`tvisor: internal error serving ${req.method} ${req.url}: ${(e as Error)?.stack ?? e}`);
        const headers: Record<string, string> = err.allow ? { allow: err.allow.join(', ') } : {};
        if (unread) headers.connection = 'close';
        send(res, err.status, toBody(err), headers);
      }
    })();
  };
  const server = createServer({
    requestTimeout: requestTimeoutS * 1000,
    headersTimeout: Math.min(HEADERS_TIMEOUT_S, requestTimeoutS) * 1000,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_S * 1000,
    // how often the timeouts above are checked (Node's default, 30 s, would let a slow client stay that long)
    connectionsCheckingInterval: 1000,
  }, handle);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_S * 1000;
  server.maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.on('drop', (d) => {
    note('drop', `tvisor: refused a connection from ${d?.remoteAddress ?? 'a local client'}: ${server.maxConnections} are open (serve --max-connections)`);
  });
  // "Expect: 100-continue": a body that is too big is refused before the client sends it
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > MAX_BODY_BYTES) {
      logWhenSent(o, req, res);
      send(res, 413, toBody(payloadTooLarge(declared, MAX_BODY_BYTES)), { connection: 'close' });
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const t0 = performance.now();
    const logged = (status: number | string) => o.requestLog?.(requestLine(req.method, req.url, status, performance.now() - t0));
    try {
      checkBrowserOrigin(req.headers, o.token !== undefined);
      if (!authorized(req.headers.authorization ?? bearerFromProtocols(req.headers['sec-websocket-protocol']))) throw unauthorized();
      const action = parseRequest(req.method ?? 'GET', req.url ?? '/', undefined, undefined);
      if (action.kind === 'migration-incoming') {
        migrations.handleUpgrade(req, socket, head, (ws) => {
          logged(101);
          serveIncomingMigration(m, ws, o.allowedDirs, o.log);
        });
        return;
      }
      if (action.kind !== 'console') throw new ApiError('bad_request', `${req.url} does not take a WebSocket upgrade; only GET /v1/vms/{id}/console and /v1/migrations/incoming do`);
      m.inspect(action.id); // 404 for an unknown VM
      wss.handleUpgrade(req, socket, head, (ws) => {
        logged(101);
        attachConsoleSocket(m, action.id, ws, o.log);
      });
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'internal') o.log(`tvisor: internal error upgrading ${req.url}: ${(e as Error)?.stack ?? e}`);
      logged(err.status);
      refuseUpgrade(socket, err);
    }
  });
  server.on('close', () => wss.close());
  return server;
}
