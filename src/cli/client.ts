// The CLI's client of the daemon's HTTP API (`tvisor ps`, `create`, `console`…): where the daemon is
// (--api or $TVISOR_API: http://HOST:PORT, HOST:PORT, or a UNIX socket path), the bearer token (--token,
// --token-file or $TVISOR_TOKEN), JSON requests over node:http, and the console WebSocket (ws).
import { request } from 'node:http';
import { resolve } from 'node:path';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import WebSocket from 'ws';
import { InputError, UsageError } from './args.js';

export const DEFAULT_API = '127.0.0.1:7477';

/** The daemon could not be reached, or answered with an error: one line, exit status 1. */
export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    message: string,
    /** The API's error code (`not_found`, `conflict`…), or `unreachable`. */
    readonly code: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/** The client options every daemon command takes. */
export const CLIENT_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const CLIENT_HELP = `  --api ADDR             the daemon: http://HOST:PORT, HOST:PORT or a UNIX socket path
                         (default: $TVISOR_API, else ${DEFAULT_API})
  --token TOKEN          bearer token of a daemon started with a token (default: $TVISOR_TOKEN)
  --token-file PATH      read the token from PATH (its first line; the file must not be readable by others),
                         so that it does not show in ps`;

/** The most a token file may hold: a token is a line, not a document. */
const TOKEN_FILE_MAX = 4096;

/**
 * Reads an API token from a file (`option` names it in messages): a regular file, private to its owner
 * (mode & 0o077 zero, as ssh asks of keys: a token others can read is no secret), whose first line is the
 * token. Opened non-blocking, so a FIFO cannot hang the caller.
 */
export function readTokenFile(path: string, option: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`${option} ${path}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`${option} ${path}: not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new InputError(`${option} ${path}: other users may read or change it (mode ${mode}); make it private with: chmod 600 ${path}`);
    }
    if (st.size > TOKEN_FILE_MAX) throw new InputError(`${option} ${path}: ${st.size} bytes is too long for a token file (at most ${TOKEN_FILE_MAX}; the token is its first line)`);
    const buf = Buffer.alloc(TOKEN_FILE_MAX);
    const n = readSync(fd, buf, 0, TOKEN_FILE_MAX, 0);
    const token = buf.subarray(0, n).toString('utf8').split(/\r?\n/)[0].trim();
    if (token === '') throw new InputError(`${option} ${path}: the file is empty; write the token on its first line`);
    return token;
  } finally {
    closeSync(fd);
  }
}

export interface Endpoint {
  /** Printed in messages. */
  label: string;
  host?: string;
  port?: number;
  socketPath?: string;
  token?: string;
}

/** Works out the daemon's address from --api / $TVISOR_API, and the token from --token, --token-file or $TVISOR_TOKEN. */
export function parseEndpoint(api: string | undefined, token: string | undefined, command: string, tokenFile?: string): Endpoint {
  const text = api ?? process.env.TVISOR_API ?? DEFAULT_API;
  if (token !== undefined && tokenFile !== undefined) throw new UsageError('give --token or --token-file, not both', command);
  const tok = token ?? (tokenFile !== undefined ? readTokenFile(tokenFile, '--token-file') : process.env.TVISOR_TOKEN || undefined);
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('../') || text.startsWith('unix:')) {
    const path = resolve(text.replace(/^unix:/, ''));
    return { label: path, socketPath: path, token: tok };
  }
  const m = /^(?:http:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new UsageError(`--api must be http://HOST:PORT, HOST:PORT or a UNIX socket path, got '${text}'`, command);
  }
  return { label: `http://${m[1]}:${port}`, host: m[1].replace(/^\[|\]$/g, ''), port, token: tok };
}

interface ApiErrorBody {
  error?: { code?: string; message?: string };
}

export class ApiClient {
  constructor(readonly endpoint: Endpoint) {}

  /** Sends a request; resolves with the parsed JSON body (null for 204), throws ClientError for errors. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const e = this.endpoint;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (e.token) headers.authorization = `Bearer ${e.token}`;
    return new Promise<T>((done, fail) => {
      const req = request({ method, path, headers, host: e.host, port: e.port, socketPath: e.socketPath }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(new ClientError(`the daemon at ${e.label} broke off the answer: ${err.message}`, 'unreachable')));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let json: unknown = null;
          if (text) {
            try {
              json = JSON.parse(text);
            } catch {
              if (status >= 400) return fail(new ClientError(`the daemon answered ${status}: ${text.trim().slice(0, 200)}`, 'http', status));
              if ((res.headers['content-type'] ?? '').includes('json')) return fail(new ClientError(`the daemon sent malformed JSON for ${method} ${path}`, 'http', status));
              json = text;
            }
          }
          if (status >= 400) {
            const err = (json as ApiErrorBody | null)?.error;
            fail(new ClientError(err?.message ?? `the daemon answered ${status}`, err?.code ?? 'http', status));
          } else done(json as T);
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => fail(unreachable(e, err)));
      req.end(payload);
    });
  }

  /** Opens the console WebSocket of a VM, paused (call resume() once listening); rejects with ClientError when the daemon refuses it. */
  console(id: string): Promise<WebSocket> {
    const e = this.endpoint;
    const path = `/v1/vms/${encodeURIComponent(id)}/console`;
    const url = e.socketPath ? `ws+unix://${e.socketPath}:${path}` : `ws://${e.host!.includes(':') ? `[${e.host}]` : e.host}:${e.port}${path}`;
    const ws = new WebSocket(url, { headers: e.token ? { authorization: `Bearer ${e.token}` } : {} });
    return new Promise((done, fail) => {
      // paused: the recent output can come in the same read as the upgrade's answer, and ws would emit it
      // before the caller's 'message' listener exists (the caller resumes once it listens)
      ws.once('open', () => {
        ws.pause();
        done(ws);
      });
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let message = `the daemon refused the console (${res.statusCode})`;
          let code = 'http';
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApiErrorBody;
            message = body.error?.message ?? message;
            code = body.error?.code ?? code;
          } catch {
            // keep the generic message
          }
          fail(new ClientError(message, code, res.statusCode ?? 0));
        });
      });
      ws.once('error', (err: NodeJS.ErrnoException) => fail(unreachable(e, err)));
    });
  }
}

function unreachable(e: Endpoint, err: NodeJS.ErrnoException): ClientError {
  const why = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'nothing is listening there' : err.message;
  return new ClientError(`cannot reach the daemon at ${e.label}: ${why} (start it with 'tvisor serve', or give --api)`, 'unreachable');
}
