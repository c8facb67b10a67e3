// What the console page needs from the hypervisor it shows: the API's requests, its newline-delimited streams
// (/v1/events, /v1/stats) and a VM's console. The daemon's is HTTP and a WebSocket (api.ts); a hypervisor in the
// page itself (src/host/browser) answers the same requests in place, so one page serves both.
import type { ConsoleChannel } from '../../api/dispatch.js';

export type { ConsoleChannel };

export interface Backend {
  /** One request as the API takes it; resolves to the answer's JSON (undefined for none), rejects with an ApiFailure. */
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Calls `each` per item of a stream until `signal` aborts; rejects when it cannot open or breaks. */
  stream<T>(path: string, each: (item: T) => void, signal: AbortSignal): Promise<void>;
  console(id: string): ConsoleChannel;
  /** Set by the page: called when the backend needs a token it does not have. */
  onUnauthorized: () => void;
  /** Backends with tokens: takes the one the user typed. */
  setToken?(token: string): void;
}

/** An API error as the hypervisor answered it (or a failure to reach it, code "network"). */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }

  /** For the page: code and message. */
  get text(): string {
    return `${this.code}: ${this.message}`;
  }
}
