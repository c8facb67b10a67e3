// The web console's files, served by the daemon at / and /assets/* (no CDN: every byte the page loads comes
// from here). They are read once from the build's output (dist/web, made by scripts/build-web.mjs) into
// memory; a request names one of them and is never joined to a path, so nothing else can be read through it.
// Also the HTTP headers that keep the page safe: a strict Content-Security-Policy, no framing, no sniffing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Where the build puts the console: dist/web beside dist/src (this file is dist/src/api/web-assets.js). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The page's headers. Scripts, styles and connections only from this origin ('self' covers the same-origin
 * WebSocket in CSP 3); inline styles are allowed because the terminal (xterm.js) sets its colours through a
 * <style> element; no inline script. The cross-origin isolation headers make SharedArrayBuffer available
 * (the in-browser VMs need it; the console loads nothing cross-origin, so they cost it nothing).
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** A web console path: `/`, `/index.html`, `/favicon.ico` or `/assets/NAME`; the API's paths are never one. */
export function isWebPath(pathname: string): boolean {
  return pathname === '/' || pathname === '/index.html' || pathname === '/favicon.ico' || pathname.startsWith('/assets/');
}

export class WebAssets {
  private readonly files = new Map<string, Asset>();

  /** Reads the build in `dir` (index.html, assets/*); a missing build leaves it empty: the page answers 404. */
  constructor(readonly dir: string = WEB_DIR) {
    this.add('/index.html', join(dir, 'index.html'));
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, 'assets'));
    } catch {
      // not built
    }
    for (const name of names) if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) this.add(`/assets/${name}`, join(dir, 'assets', name));
  }

  get built(): boolean {
    return this.files.has('/index.html');
  }

  private add(key: string, path: string): void {
    try {
      if (!statSync(path).isFile()) return;
      const body = readFileSync(path);
      const ext = /\.[a-z0-9]+$/.exec(key)?.[0] ?? '';
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.files.set(key, { body, type: TYPES[ext] ?? 'application/octet-stream', etag });
    } catch {
      // absent
    }
  }

  /**
   * Answers a GET or HEAD of a web path; false when there is no such file (the caller answers 404 as the API
   * does). Revalidated by ETag every time (no-cache): a rebuilt console is seen at the next load.
   */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    const asset = this.files.get(pathname === '/' ? '/index.html' : pathname);
    if (!asset) return false;
    const headers: Record<string, string | number> = { ...PAGE_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache', etag: asset.etag };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': asset.body.length });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  }
}
