// The API's streaming answers over plain HTTP: a VM's console output (GET /v1/vms/{id}/logs, optionally
// followed) and the daemon's lifecycle events (GET /v1/events, newline-delimited JSON). Each client has a
// bounded queue (console-client.ts): a slow reader skips output, one that takes nothing is dropped, and
// neither ever holds the daemon or its memory.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VmManager } from '../hypervisor/manager.js';
import { ConsoleClientQueue, type ConsoleTransport } from '../hypervisor/console-client.js';
import type { VmEvent } from '../hypervisor/events.js';
import { sampleEvery } from '../hypervisor/stats.js';

/** The response as a console client's transport; `text` turns the queue's text events into bytes (or ends). */
function responseTransport(res: ServerResponse, log: (line: string) => void, what: string,
  text: (event: string) => string | null): ConsoleTransport {
  return {
    send(data, done) {
      if (res.destroyed || res.writableEnded) return done(new Error('closed'));
      if (typeof data === 'string') {
        const out = text(data);
        if (out === null) {
          res.end(() => done());
          return;
        }
        data = Buffer.from(out, 'utf8');
      }
      res.write(data, (err) => done(err ?? undefined));
    },
    buffered: () => res.writableLength + (res.socket?.writableLength ?? 0),
    drop(reason) {
      log(`tvisor: ${what} client dropped: ${reason}`);
      res.destroy();
    },
    nowMs: () => performance.now(),
  };
}

/** The last `lines` lines of `bytes` (a final newline ends the last line, it does not start another). */
export function lastLines(bytes: Uint8Array, lines: number): Uint8Array {
  if (lines === 0) return bytes.subarray(bytes.length);
  let i = bytes.length - 1;
  if (i >= 0 && bytes[i] === 0x0a) i--;
  for (let seen = 0; i >= 0; i--) {
    if (bytes[i] === 0x0a && ++seen === lines) return bytes.subarray(i + 1);
  }
  return bytes;
}

/**
 * GET /v1/vms/{id}/logs: the console output the daemon keeps (the last 64 KiB since the VM last started), or
 * its last `tail` lines; with `follow`, then everything the guest prints until the VM stops, crashes or is
 * deleted (or the client goes). Bytes as the guest wrote them; output skipped for a slow reader is marked
 * in the stream by a line "[tvisor: N bytes of output skipped]".
 */
export function serveLogs(m: VmManager, a: { id: string; follow: boolean; tail?: number }, res: ServerResponse,
  log: (line: string) => void): void {
  const vm = m.inspect(a.id); // 404 before anything is sent
  const kept: Uint8Array[] = [];
  let replaying = true;
  let queue: ConsoleClientQueue | null = null;
  const end = (state: string) => queue?.event({ event: 'end', state });
  const session = m.attachConsole(a.id, {
    data: (bytes) => (replaying ? kept.push(bytes) : queue?.data(bytes)),
    skipped: (bytes) => queue?.skipped(bytes),
    state: (state) => {
      if (state === 'stopped' || state === 'crashed') end(state);
    },
    closed: () => end('deleted'),
  });
  replaying = false;
  let backlog: Uint8Array = Buffer.concat(kept);
  if (a.tail !== undefined) backlog = lastLines(backlog, a.tail);
  const live = vm.state === 'running' || vm.state === 'paused';
  if (!a.follow || !live) {
    session.detach();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': backlog.length, 'cache-control': 'no-store' });
    res.end(backlog);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
  res.flushHeaders();
  queue = new ConsoleClientQueue(responseTransport(res, log, `logs of VM ${a.id}:`, (text) => {
    const e = JSON.parse(text) as { event: string; bytes?: number };
    return e.event === 'skipped' ? `\r\n[tvisor: ${e.bytes} bytes of output skipped]\r\n` : null;
  }));
  if (backlog.length > 0) queue.data(backlog);
  res.on('close', () => {
    queue?.close();
    session.detach();
  });
}

/**
 * GET /v1/events: every lifecycle event of every VM from now on, one JSON object a line, until the client
 * goes. A client that does not read is dropped once its queue (256 events) is full.
 */
export function serveEvents(m: VmManager, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const queue = new ConsoleClientQueue(responseTransport(res, log, `event stream (${req.socket.remoteAddress ?? 'local'})`, (text) => `${text}\n`));
  const unsubscribe = m.events.subscribe((e: VmEvent) => queue.event({ ...e }));
  res.on('close', () => {
    queue.close();
    unsubscribe();
  });
}

/**
 * GET /v1/stats: every `intervalMs`, one line of JSON with every VM's resource use over the interval as rates
 * (a StatsSample), until the client goes; the first comes one interval after the request. A client that does
 * not read is dropped once its queue is full, as for the events.
 */
export function serveStats(m: VmManager, intervalMs: number, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const queue = new ConsoleClientQueue(responseTransport(res, log, `stats stream (${req.socket.remoteAddress ?? 'local'})`, (text) => `${text}\n`));
  const stop = sampleEvery(m, intervalMs, (s) => queue.event(s));
  res.on('close', () => {
    stop();
    queue.close();
  });
}
