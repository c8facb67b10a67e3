// The API answered in-process, without HTTP: the daemon's requests, parsed by the same parser (actions.ts) and
// answered by the same actions (dispatch.ts) on a VM manager in the same thread; streams and consoles are
// callbacks instead of HTTP responses and WebSockets. The in-browser hypervisor (src/host/browser) is driven
// through it by the web console page, as a daemon is through HTTP. Host-neutral.
import { parseRequest } from './actions.js';
import { runAction, type ActionHost, type ConsoleChannel, type JsonAction } from './dispatch.js';
import { ApiError } from '../hypervisor/errors.js';
import { sampleEvery } from '../hypervisor/stats.js';
import type { VmManager } from '../hypervisor/manager.js';

/** Close code of a console whose VM was deleted, as the daemon's WebSocket (4404). */
const CLOSE_DELETED = 4404;

export class LocalApi {
  /** Never called: the page's hypervisor has no token. */
  onUnauthorized: () => void = () => {};

  constructor(private readonly m: VmManager, private readonly host: ActionHost = {}) {}

  /** One request as the API takes it; rejects with the ApiError the daemon would answer with. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const json = body === undefined ? undefined : JSON.stringify(body);
    const action = parseRequest(method, path, json === undefined ? undefined : 'application/json', json);
    switch (action.kind) {
      case 'logs':
      case 'events':
      case 'stats':
      case 'console':
      case 'migration-incoming':
        throw new ApiError('bad_request', `${path} is a stream here: use stream() or console()`);
    }
    return (await runAction(this.m, action satisfies JsonAction, this.host)).body as T;
  }

  /** GET /v1/events or /v1/stats, an item per callback until `signal` aborts. */
  stream<T>(path: string, each: (item: T) => void, signal: AbortSignal): Promise<void> {
    const action = parseRequest('GET', path, undefined, undefined);
    return new Promise<void>((resolve, reject) => {
      let end: () => void;
      if (action.kind === 'events') {
        end = this.m.events.subscribe((e) => each({ ...e } as T));
      } else if (action.kind === 'stats') {
        end = sampleEvery(this.m, action.intervalMs, (s) => each(s as T));
      } else {
        reject(new ApiError('bad_request', `${path} is not a stream`));
        return;
      }
      signal.addEventListener('abort', () => {
        end();
        resolve();
      }, { once: true });
    });
  }

  /**
   * A VM's console: what the guest printed since it last started (64 KiB at most), then its output as it comes;
   * input goes to the guest. Delivered a microtask later, in order, so the caller can set its handlers first.
   */
  console(id: string): ConsoleChannel {
    this.m.inspect(id); // an unknown VM throws
    let open = true;
    const pending: (Uint8Array | string)[] = [];
    let scheduled = false;
    const channel: ConsoleChannel = {
      send: (bytes) => {
        if (open) session.input(bytes.slice(), () => {});
      },
      close: () => {
        open = false;
        session.detach();
      },
      get open() {
        return open;
      },
      onmessage: () => {},
      onclose: () => {},
    };
    const deliver = (item: Uint8Array | string) => {
      pending.push(item);
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        for (const x of pending.splice(0)) if (open) channel.onmessage(x);
      });
    };
    const session = this.m.attachConsole(id, {
      data: (bytes) => deliver(bytes),
      skipped: (bytes) => deliver(JSON.stringify({ event: 'skipped', bytes })),
      state: (state, reason) => deliver(JSON.stringify(reason === undefined ? { event: 'state', state } : { event: 'state', state, reason })),
      closed: (reason) => {
        open = false;
        queueMicrotask(() => channel.onclose(CLOSE_DELETED, reason));
      },
    });
    return channel;
  }
}
