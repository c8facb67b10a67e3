// A `tvisor serve` daemon for end-to-end tests: started as a child process on a free loopback port (or a
// UNIX socket), with a small JSON client and a poller.
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './toolchain.js';
import { killOnExit } from './children.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { documentedResponse, validateSchema, type ApiDocument } from '../../src/api/schema.js';

export interface Daemon {
  child: ChildProcess;
  /** http://127.0.0.1:PORT, or the socket path. */
  url: string;
  /** What the daemon printed on stderr so far. */
  log: () => string;
}

/** How long a daemon may take to listen: node's start-up alone takes seconds on a loaded 2-core machine. */
const START_MS = 90_000;

/**
 * Starts `tvisor serve --pcpus 1` (plus `args`) with the state in `stateDir`; resolves once it listens. The
 * daemon gets this process's environment without $TVISOR_TOKEN (which would make it ask for a token), plus `env`.
 * A daemon that does not start is killed; every daemon is killed when the test process exits.
 */
export async function startDaemon(stateDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
  const listen = args.includes('--socket') ? [] : ['--listen', '127.0.0.1:0'];
  const pcpus = args.includes('--pcpus') ? [] : ['--pcpus', '1'];
  const { TVISOR_TOKEN: _, ...inherited } = process.env;
  const child = spawn(process.execPath, [cliPath, 'serve', ...listen, ...pcpus, '--state-dir', stateDir, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...inherited, ...env },
  });
  killOnExit(child);
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not start within ${START_MS / 1000} s:\n${log}`));
    }, START_MS);
    child.stderr!.on('data', (d) => {
      log += d;
      const m = /serving the API on (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`daemon exited:\n${log}`));
    });
  });
  return { child, url, log: () => log };
}

/** SIGTERM, then SIGKILL if the daemon has not exited a minute later (a test's cleanup must not hang). */
export async function stopDaemon(d: Daemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

const DOC = openApiDocument() as ApiDocument;

/**
 * One API request over TCP; `body` as a string is sent verbatim (for malformed JSON). Every answer is held to
 * the OpenAPI document: its status must be documented for the operation, and its body must match the
 * documented schema (so every end-to-end test is also an API conformance test).
 */
export async function api(d: Daemon, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${d.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  const route = path.split('?')[0];
  const documented = documentedResponse(DOC, method, route, r.status);
  const contentType = r.headers.get('content-type') ?? '';
  if (documented.schema === null) {
    if (text !== '' && contentType.includes('json')) throw new Error(`${method} ${path} → ${r.status}: the document promises no JSON body, got ${text}`);
    return { status: r.status, json: null };
  }
  if (!contentType.startsWith(documented.contentType!.split(';')[0])) {
    throw new Error(`${method} ${path} → ${r.status}: Content-Type ${contentType}, documented ${documented.contentType}`);
  }
  const json = documented.contentType!.includes('json') ? JSON.parse(text) : text;
  const why = validateSchema(DOC, documented.schema, json);
  if (why) throw new Error(`${method} ${path} → ${r.status} does not match the OpenAPI document: ${why}\n${text.slice(0, 2000)}`);
  return { status: r.status, json };
}

/**
 * Polls GET /v1/vms/{id} every 500 ms until `ok` holds; throws with the last answer and the log after `ms`
 * (a deadline for a hang, not a measurement: generous, as a boot on a loaded machine takes minutes).
 */
export async function waitFor(d: Daemon, id: string, ok: (v: any) => boolean, what: string, ms = 300_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const v = (await api(d, 'GET', `/v1/vms/${id}`)).json;
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: gave up; last ${JSON.stringify(v)}\n${d.log()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Attaches to a VM's console WebSocket (before start, to see the whole boot) and collects its output. */
export async function collectConsole(d: Daemon, id: string): Promise<{ text(): string; close(): void; waitFor(re: RegExp, ms?: number): Promise<void> }> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${id}/console`);
  let out = '';
  ws.on('message', (data, binary) => {
    if (binary) out += Buffer.from(data as Buffer).toString('latin1');
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    text: () => out,
    close: () => ws.close(),
    async waitFor(re, ms = 300_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`console of ${id}: no ${re} after ${ms} ms in:\n${out}\n${d.log()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/** Types a line into a VM's console through a WebSocket of its own (closed once the line is sent). */
export async function typeLine(d: Daemon, id: string, line: string): Promise<void> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`${d.url.replace(/^http/, 'ws')}/v1/vms/${id}/console`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => ws.send(`${line}\n`, (e) => (e ? reject(e) : resolve())));
  ws.close();
}
