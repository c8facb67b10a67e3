// The console's client of the daemon's API, on the page's own origin: JSON requests with the token (when the
// daemon has one) as Authorization, newline-delimited JSON streams read with fetch, and the console WebSocket
// (a browser cannot set headers on a WebSocket: the token goes as a subprotocol).
import type { ErrorBody } from '../../hypervisor/errors.js';
import { ApiFailure, type Backend, type ConsoleChannel } from './backend.js';

const TOKEN_KEY = 'tvisor.token';

export class Api implements Backend {
  /** Called when the daemon answers 401: the page asks for the token. */
  onUnauthorized: () => void = () => {};

  constructor(private token: string | null) {}

  /**
   * The token from the address (#token=…, which the daemon never sees) or from this tab's storage; the
   * address is cleaned so the token does not stay in the history or a bookmark.
   */
  static fromPage(): Api {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return new Api(sessionStorage.getItem(TOKEN_KEY));
  }

  setToken(token: string): void {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  get hasToken(): boolean {
    return this.token !== null && this.token !== '';
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {};
    if (json) h['content-type'] = 'application/json';
    if (this.hasToken) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  /** One request; resolves to the parsed answer (undefined for 204), rejects with an ApiFailure. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let r: Response;
    try {
      r = await fetch(path, { method, headers: this.headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiFailure(0, 'network', `the daemon did not answer (${(e as Error).message}); is tvisor serve still running?`);
    }
    if (r.status === 204) return undefined as T;
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiFailure(r.status, 'bad_answer', `the daemon answered ${r.status} with something that is not JSON`);
    }
    if (!r.ok) {
      if (r.status === 401) this.onUnauthorized();
      const e = (json as ErrorBody).error;
      throw new ApiFailure(r.status, e?.code ?? String(r.status), e?.message ?? text.slice(0, 200));
    }
    return json as T;
  }

  /**
   * Reads a newline-delimited JSON stream (GET /v1/events, /v1/stats) and calls `each` per line until `signal`
   * aborts it; rejects when the stream could not be opened or broke.
   */
  async stream<T>(path: string, each: (item: T) => void, signal: AbortSignal): Promise<void> {
    const r = await fetch(path, { headers: this.headers(false), signal });
    if (!r.ok || !r.body) {
      if (r.status === 401) this.onUnauthorized();
      throw new ApiFailure(r.status, String(r.status), `${path}: ${r.status} ${r.statusText}`);
    }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      rest += value;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line.trim() !== '') each(JSON.parse(line) as T);
      }
    }
  }

  /** The console WebSocket of a VM, with the token as a subprotocol when there is one. */
  console(id: string): ConsoleChannel {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/vms/${encodeURIComponent(id)}/console`;
    const protocols = ['tvisor'];
    if (this.hasToken) protocols.push(`tvisor.bearer.${base64url(this.token!)}`);
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    const channel: ConsoleChannel = {
      send: (bytes) => ws.send(bytes),
      close: () => ws.close(),
      get open() {
        return ws.readyState === WebSocket.OPEN;
      },
      onmessage: () => {},
      onclose: () => {},
    };
    ws.onmessage = (m) => channel.onmessage(typeof m.data === 'string' ? m.data : new Uint8Array(m.data as ArrayBuffer));
    ws.onclose = (e) => channel.onclose(e.code, e.reason);
    return channel;
  }
}

function base64url(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
