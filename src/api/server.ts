// The daemon's HTTP server (node:http): reads a request (bounded), parses it into a VmAction, checks file
// paths against the allowed directories, runs it on the VM manager, and answers JSON — errors as
// {error: {code, message}}. Also /metrics (Prometheus text), /v1/openapi.json, and the console WebSocket.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { realpathSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseRequest, checkAllowedPaths, specPaths, MAX_BODY_BYTES, type VmInfo } from './actions.js';
import { ApiError, payloadTooLarge, toApiError, toBody, unauthorized, forbiddenPath } from './errors.js';
import { openApiDocument } from './openapi.js';
import type { VmManager } from '../hypervisor/manager.js';
import { ConsoleClientQueue } from '../hypervisor/console-client.js';

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

/** Symlinks must not lead out of the allowed directories either: check the resolved paths too. */
function checkRealPaths(paths: { field: string; path: string }[], allowed: string[]): void {
  const realAllowed = allowed.map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return d;
    }
  });
  for (const { field, path } of paths) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      continue; // a missing file is reported when it is opened (overlays are created)
    }
    if (!realAllowed.some((d) => real.startsWith(`${d}/`))) throw forbiddenPath(field, path, allowed);
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
            checkRealPaths(specPaths(action.spec), o.allowedDirs);
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
      wss.handleUpgrade(req, socket, head, (ws) => attachConsoleSocket(m, action.id, ws, o.log));
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'internal') o.log(`tvisor: internal error upgrading ${req.url}: ${(e as Error)?.stack ?? e}`);
      refuseUpgrade(socket, err);
    }
  });
  server.on('close', () => wss.close());
  return server;
}
