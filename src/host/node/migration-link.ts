// The sending end of a live migration to another daemon (hypervisor/migration.ts MigrationLink): a WebSocket to
// its GET /v1/migrations/incoming, with its API token. Page batches go as binary messages of at most 16 MiB
// (whole page records), the rest as JSON text.
import { WebSocket } from 'ws';
import type { MigrationLink, MigrationMessage } from '../../hypervisor/migration.js';
import { PAGE_RECORD } from '../../core/snapshot/pages.js';

/** Binary messages carry at most this many bytes of page records (the receiver takes 17 MiB at most). */
const CHUNK = PAGE_RECORD * 4096;

export function connectDaemon(to: string, token?: string): Promise<MigrationLink> {
  const url = `${to.replace(/^http:/, 'ws:')}/v1/migrations/incoming`;
  const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, maxPayload: 1 << 20 });
  const inbox: MigrationMessage[] = [];
  const waiting: { resolve(m: MigrationMessage): void; reject(e: Error): void }[] = [];
  let ended: Error | null = null;
  ws.on('message', (data, binary) => {
    let m: MigrationMessage;
    try {
      if (binary) throw new Error('a binary message');
      m = JSON.parse(String(data)) as MigrationMessage;
    } catch (e) {
      m = { t: 'error', code: 'internal', message: `${to} answered what is not a migration message (${(e as Error).message})` };
    }
    const w = waiting.shift();
    if (w) w.resolve(m);
    else inbox.push(m);
  });
  ws.on('close', (code, reason) => {
    ended ??= new Error(`${to} closed the connection (${code}${reason.length ? `: ${reason}` : ''})`);
    for (const w of waiting.splice(0)) w.reject(ended);
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => {
        let message = body;
        try {
          message = (JSON.parse(body) as { error: { message: string } }).error.message;
        } catch {
          // not the API's JSON error: the text as it came
        }
        reject(new Error(`HTTP ${res.statusCode}: ${message}`));
      });
    });
    ws.once('error', (e) => {
      ended ??= e;
      reject(e);
    });
    ws.once('open', () => resolve({
      send: (m) => ws.send(JSON.stringify(m)),
      sendPages: (batch) => {
        for (let o = 0; o < batch.byteLength; o += CHUNK) ws.send(new Uint8Array(batch, o, Math.min(CHUNK, batch.byteLength - o)));
      },
      next: () => {
        const m = inbox.shift();
        if (m) return Promise.resolve(m);
        if (ended) return Promise.reject(ended);
        return new Promise((res, rej) => waiting.push({ resolve: res, reject: rej }));
      },
      close: () => ws.close(1000),
    }));
  });
}
