// `tvisor demo`: serves the in-browser build (dist/web/demo, made by npm run build) and the default guest's
// kernel and initramfs from the image cache, with the headers that make a page cross-origin isolated (shared
// memory between its workers needs them). The guests then run in the browser tab; this server only hands out
// files.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WebAssets, WEB_DIR, PAGE_HEADERS } from '../api/web-assets.js';
import { ensureDefaultGuest, ImageError, type GuestImage } from '../images/index.js';
import { DEFAULT_CMDLINE } from '../hypervisor/spec.js';
import type { GuestImageInfo } from '../hypervisor/model.js';
import { InputError, parseCommandLine, UsageError } from './args.js';

export const DEMO_SUMMARY = 'Serve tvisor for a browser tab: Debian guests running in the page itself';

export const DEMO_HELP = `Usage: tvisor demo [options]

Serves the in-browser build of tvisor and the default Debian guest (pulled into the image cache first if it is
not there): open the address it prints, and the guest boots in the browser tab, its VMs under the same credit
scheduler as the daemon's, shown by the web console page. Nothing runs on the server but this file server.
The page needs cross-origin isolation (for shared memory between its workers): this server sends the headers.

Options:
  --listen HOST:PORT     where to serve (default 127.0.0.1:8080; port 0 picks a free one)
  --kernel PATH          serve this kernel (a RISC-V Linux Image) instead of the default guest's
  --initrd PATH          serve this initramfs instead of the default guest's
  --disk PATH            also serve this disk image (raw; the tab reads it in ranges as the guest does and
                         keeps the guest's writes in an overlay: in memory, or in the browser's storage)
  -h, --help             show this help

The page takes ?vms=N (boot N VMs at once, default 1) and ?pcpus=N (workers running at once).
`;

const OPTIONS = {
  listen: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, disk: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A file given on the command line: it must be a regular file (it is served as long as the server runs). */
function givenFile(path: string | undefined, option: string): string | undefined {
  if (path === undefined) return undefined;
  const full = resolve(path);
  let ok = false;
  try {
    ok = statSync(full).isFile();
  } catch (e) {
    throw new InputError(`${option} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!ok) throw new InputError(`${option} ${path}: not a regular file`);
  return full;
}

/** A file of the guest: its path in the cache, by the name the page fetches it as. */
type GuestFiles = Map<string, string>;

/** Sends `path` (a guest file), or the byte range the request asks for (RFC 9110 §14: one range). */
function sendFile(req: IncomingMessage, res: ServerResponse, path: string): void {
  const size = statSync(path).size;
  const headers: Record<string, string | number> = { ...PAGE_HEADERS, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'cache-control': 'no-cache' };
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start > end || start >= size) {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  if (req.method === 'HEAD') res.end();
  else createReadStream(path).pipe(res);
}

function notFound(res: ServerResponse, what: string): void {
  res.writeHead(404, { ...PAGE_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end(`${what}\n`);
}

/** Where the page finds the guest's files, relative to it: served by tvisor demo, or copied by npm run build:web. */
export const DEMO_FILES = { kernel: 'images/default/Image', initrd: 'images/default/initramfs.cpio', disk: 'images/default/disk.img' } as const;

/** images/manifest.json: the guest the page boots (with the files given instead of the default guest's, if any). */
export function demoManifest(guest: GuestImage, given: { kernel?: string; initrd?: string; disk?: string } = {}) {
  const own = [given.kernel && `kernel ${given.kernel}`, given.initrd && `initramfs ${given.initrd}`].filter(Boolean).join(', ');
  return {
    images: [{
      name: 'default',
      description: own ? `the files given to tvisor demo (${own}), with the default guest's for the rest`
        : `Debian ${guest.manifest.suite} (riscv64): Linux ${guest.kernelVersion}, busybox initramfs`,
      kernel: DEMO_FILES.kernel, initrd: DEMO_FILES.initrd, cmdline: DEFAULT_CMDLINE,
    } satisfies GuestImageInfo],
    /** Disk images the tab may give its VMs (read in ranges). */
    disks: given.disk ? [{ path: DEMO_FILES.disk, size: statSync(given.disk).size }] : [],
  };
}

export async function demoCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS, 'demo');
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'demo');
  const listen = (values.listen as string | undefined) ?? '127.0.0.1:8080';
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (!m) throw new UsageError(`--listen must be HOST:PORT, got '${listen}'`, 'demo');
  const web = new WebAssets(join(WEB_DIR, 'demo'));
  if (!web.built) throw new InputError(`the in-browser build is missing from ${web.dir}: run npm run build first`);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const kernel = givenFile(values.kernel as string | undefined, '--kernel');
  const initrd = givenFile(values.initrd as string | undefined, '--initrd');
  const disk = givenFile(values.disk as string | undefined, '--disk');
  if (disk && statSync(disk).size % 512 !== 0) throw new InputError(`--disk ${values.disk}: a disk image's size must be a multiple of 512 bytes`);
  let guest;
  try {
    guest = await ensureDefaultGuest({ log });
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(e.message);
    throw e;
  }
  const files: GuestFiles = new Map([['Image', kernel ?? guest.kernel], ['initramfs.cpio', initrd ?? guest.initrd]]);
  if (disk) files.set('disk.img', disk);
  const manifest = demoManifest(guest, { kernel, initrd, disk });
  const server = createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...PAGE_HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    if (pathname === '/images/manifest.json') {
      res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(JSON.stringify(manifest));
      return;
    }
    const file = /^\/images\/default\/([A-Za-z0-9._-]+)$/.exec(pathname)?.[1];
    if (file !== undefined) {
      const path = files.get(file);
      if (path) sendFile(req, res, path);
      else notFound(res, `no guest file ${file}`);
      return;
    }
    if (!web.serve(req, res, pathname)) notFound(res, `no such file: ${pathname}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new InputError(`cannot listen on ${listen}: ${e.code === 'EADDRINUSE' ? 'the address is in use (--listen HOST:PORT picks another)' : e.message}`)));
    server.listen(Number(m[2]), m[1].replace(/^\[|\]$/g, ''), resolve);
  });
  const addr = server.address();
  const where = typeof addr === 'string' ? addr : `http://${addr?.family === 'IPv6' ? `[${addr.address}]` : addr?.address}:${addr?.port}/`;
  log(`tvisor: serving the in-browser demo at ${where} (the guests run in the browser tab; Ctrl-C stops this server)`);
  await new Promise<void>((done) => {
    const stop = () => {
      server.close();
      server.closeAllConnections();
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
