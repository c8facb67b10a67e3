// The daemon's HTTP server (node:http): reads a request (bounded), parses it into a VmAction, checks file
// paths against the allowed directories, runs it on the VM manager, and answers JSON — errors as
// {error: {code, message}}. Also /metrics (Prometheus text), /v1/openapi.json, and the console WebSocket.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseRequest, checkAllowedPaths, specPaths, MAX_BODY_BYTES, type VmInfo, type VmSpec } from './actions.js';
import { checkConfined, FileRefused } from '../host/node/confined-open.js';
import { ApiError, payloadTooLarge, toApiError, toBody, unauthorized, fileMissing, fileOutside, fileUnusable } from './errors.js';
import { openApiDocument } from './openapi.js';
import type { VmManager } from '../hypervisor/manager.js';

export interface ApiServerOptions {
  manager: VmManager;
  allowedDirs: string[];
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  log(line: string): void;
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(payloadTooLarge(size, MAX_BODY_BYTES));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
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
  }
}

export function metricsText(vms: VmInfo[]): string {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'counter' | 'gauge', value: (v: VmInfo) => number) => {
    lines.push(`# HELP tvisor_${name} ${help}`, `# TYPE tvisor_${name} ${type}`);
    for (const v of vms) lines.push(`tvisor_${name}{vm="${v.id}",name="${v.name}"} ${value(v)}`);
  };
  metric('vm_running', '1 when the VM is running', 'gauge', (v) => (v.state === 'running' ? 1 : 0));
  metric('vm_cpu_time_seconds_total', 'host CPU time given to the VM', 'counter', (v) => v.stats.cpu_time_ns / 1e9);
  metric('vm_steal_time_seconds_total', 'time the VM was runnable but not running', 'counter', (v) => v.stats.steal_time_ns / 1e9);
  metric('vm_instructions_total', 'guest instructions retired', 'counter', (v) => v.stats.instructions);
  metric('vm_memory_touched_bytes', 'guest RAM written at least once', 'gauge', (v) => v.stats.memory_touched_bytes);
  metric('vm_balloon_bytes', 'memory in the balloon', 'gauge', (v) => v.stats.balloon_mib * 2 ** 20);
  metric('vm_disk_read_bytes_total', 'bytes read from disks', 'counter', (v) => v.stats.disk_read_bytes);
  metric('vm_disk_write_bytes_total', 'bytes written to disks', 'counter', (v) => v.stats.disk_write_bytes);
  metric('vm_net_rx_bytes_total', 'bytes received by NICs', 'counter', (v) => v.stats.net_rx_bytes);
  metric('vm_net_tx_bytes_total', 'bytes sent by NICs', 'counter', (v) => v.stats.net_tx_bytes);
  metric('vm_disk_ops_total', 'disk requests served (reads and writes)', 'counter', (v) => v.stats.disk_read_ops + v.stats.disk_write_ops);
  metric('vm_disk_throttled_total', 'times a rate limiter made a disk queue wait', 'counter', (v) => v.stats.disk_throttled);
  metric('vm_net_throttled_total', 'times a rate limiter made a NIC wait (either direction)', 'counter', (v) => v.stats.net_throttled);
  return `${lines.join('\n')}\n`;
}

/** Largest message a console client may send (a paste); bigger ones close the socket (1009). */
const CONSOLE_MAX_MESSAGE = 64 * 1024;
/** Output is dropped for a client that has this much unsent, so a stalled client cannot eat the daemon's memory. */
const CONSOLE_MAX_BUFFERED = 4 * 2 ** 20;

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
 * "reason"?:…}` when the VM changes state, so a client can say that the guest stopped.
 */
function attachConsoleSocket(m: VmManager, id: string, ws: WebSocket): void {
  const session = m.attachConsole(id, {
    data(bytes) {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount <= CONSOLE_MAX_BUFFERED) ws.send(bytes);
    },
    state(state, reason) {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify(reason === undefined ? { event: 'state', state } : { event: 'state', state, reason }));
    },
  });
  ws.on('message', (data) => {
    const chunks = Array.isArray(data) ? data : [data instanceof ArrayBuffer ? Buffer.from(data) : data];
    for (const c of chunks) if (c.length > 0) session.input(new Uint8Array(c));
  });
  ws.on('close', () => session.detach());
  ws.on('error', () => session.detach());
}

export function createApiServer(o: ApiServerOptions): Server {
  const m = o.manager;
  const wss = new WebSocketServer({ noServer: true, maxPayload: CONSOLE_MAX_MESSAGE });
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) throw unauthorized();
        const body = await readBody(req);
        const action = parseRequest(req.method ?? 'GET', req.url ?? '/', req.headers['content-type'], body);
        switch (action.kind) {
          case 'create': {
            checkAllowedPaths(action.spec, o.allowedDirs);
            checkSpecFiles(action.spec, o.allowedDirs);
            send(res, 201, m.create(action.spec));
            return;
          }
          case 'list': send(res, 200, m.list()); return;
          case 'get': send(res, 200, m.inspect(action.id)); return;
          case 'start': send(res, 200, m.start(action.id)); return;
          case 'stop': send(res, 200, m.stop(action.id)); return;
          case 'pause': send(res, 200, m.pause(action.id)); return;
          case 'resume': send(res, 200, m.resume(action.id)); return;
          case 'delete': m.remove(action.id); res.writeHead(204).end(); return;
          case 'update': send(res, 200, m.update(action.id, action.patch)); return;
          case 'update-disk':
          case 'update-nic':
            send(res, 200, m.updateDevice(action.id, action.kind === 'update-disk' ? 'disk' : 'nic', action.index, action.patch));
            return;
          case 'metrics': send(res, 200, metricsText(m.list())); return;
          case 'openapi': send(res, 200, openApiDocument()); return;
          case 'console':
            m.inspect(action.id); // 404 for an unknown VM
            throw new ApiError('bad_request', 'the console needs a WebSocket upgrade (Upgrade: websocket)');
        }
      } catch (e) {
        const err = toApiError(e);
        if (err.code === 'internal') o.log(`tvisor: internal error serving ${req.method} ${req.url}: ${(e as Error)?.stack ?? e}`);
        send(res, err.status, toBody(err), err.allow ? { allow: err.allow.join(', ') } : {});
      }
    })();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      if (o.token !== undefined && req.headers.authorization !== `Bearer ${o.token}`) throw unauthorized();
      const action = parseRequest(req.method ?? 'GET', req.url ?? '/', undefined, undefined);
      if (action.kind !== 'console') throw new ApiError('bad_request', `${req.url} does not take a WebSocket upgrade; only GET /v1/vms/{id}/console does`);
      m.inspect(action.id); // 404 for an unknown VM
      wss.handleUpgrade(req, socket, head, (ws) => attachConsoleSocket(m, action.id, ws));
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'internal') o.log(`tvisor: internal error upgrading ${req.url}: ${(e as Error)?.stack ?? e}`);
      refuseUpgrade(socket, err);
    }
  });
  server.on('close', () => wss.close());
  return server;
}
