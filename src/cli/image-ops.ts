// `tvisor image rm` (cached guests and packages out of the image cache, refused while a VM of the daemon
// uses them) and `tvisor image resize` (grow a raw disk image, and the ext2/3/4 filesystem on it with
// e2fsprogs' resize2fs, under the image's writer lock so no VM has it open meanwhile).
import { execFile } from 'node:child_process';
import { accessSync, closeSync, constants, fsyncSync, openSync, readSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { VmInfo } from '../api/actions.js';
import { specPaths } from '../api/actions.js';
import { listCache } from '../images/node/guest.js';
import { formatBytes } from './vms.js';
import { DiskError, openDiskImage } from '../host/node/block-file.js';
import { InputError, parseSize, UsageError } from './args.js';
import { ApiClient, ClientError, parseEndpoint } from './client.js';

// ---- image rm ----

/** The daemon's VMs, or null (with a warning) when it cannot be asked. */
async function daemonVms(api: string | undefined, token: string | undefined, tokenFile: string | undefined): Promise<VmInfo[] | null> {
  const endpoint = parseEndpoint(api, token, 'image', tokenFile);
  try {
    return await new ApiClient(endpoint).call<VmInfo[]>('GET', '/v1/vms');
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    if (e.code !== 'unreachable') process.stderr.write(`tvisor: warning: cannot ask the daemon at ${endpoint.label} which VMs use the cache: ${e.message}\n`);
    return null;
  }
}

export interface RmOptions {
  names: string[];
  all: boolean;
  force: boolean;
  cacheDir?: string;
  api?: string;
  token?: string;
  tokenFile?: string;
}

/**
 * Removes guests (by the name `image ls` shows) and packages (by file name) from the cache, or everything
 * with `all`. A guest a VM of the daemon names (kernel, initrd, firmware or disk inside it) is refused
 * unless `force`: that VM could no longer start. Removing the current guest removes its pointer too, so the
 * next `tvisor run` builds it again.
 */
export async function imageRm(o: RmOptions): Promise<number> {
  if (o.all === (o.names.length > 0)) throw new UsageError(o.all ? 'give names or --all, not both' : "name what to remove (see 'tvisor image ls'), or give --all", 'image');
  const listing = await listCache({ cacheDir: o.cacheDir });
  const cache = listing.cacheDir;
  const targets: { label: string; path: string; guest: boolean; current?: boolean }[] = [];
  if (o.all) {
    for (const g of listing.guests) targets.push({ label: `guest ${g.name}`, path: g.dir, guest: true, current: g.current });
  } else {
    for (const name of o.names) {
      const g = listing.guests.find((x) => x.name === name);
      const deb = listing.debs.find((x) => x.file === name);
      if (g) targets.push({ label: `guest ${g.name}`, path: g.dir, guest: true, current: g.current });
      else if (deb) targets.push({ label: `package ${deb.file}`, path: join(cache, 'debs', deb.file), guest: false });
      else throw new InputError(`no guest or package '${name}' in the cache ${cache}; 'tvisor image ls' lists them`);
    }
  }
  const vms = await daemonVms(o.api, o.token, o.tokenFile);
  for (const t of targets.filter((x) => x.guest)) {
    const users = (vms ?? []).filter((vm) => specPaths(vm.config).some((p) => p.path.startsWith(`${t.path}/`)));
    if (users.length > 0 && !o.force) {
      const who = users.map((vm) => `${vm.name} (${vm.id}, ${vm.state})`).join(', ');
      throw new ClientError(`${t.label} is used by the daemon's VM${users.length > 1 ? 's' : ''} ${who}, which could not start (or reboot) without it; delete ${users.length > 1 ? 'them' : 'it'} first ('tvisor rm'), or give --force`, 'conflict');
    }
  }
  for (const t of targets) {
    rmSync(t.path, { recursive: true, force: true });
    process.stdout.write(`removed ${t.label}\n`);
  }
  if (o.all) {
    for (const sub of ['debs', 'archive', 'tmp', 'kernels', 'guests', 'boot', 'debootstrap', 'test']) rmSync(join(cache, sub), { recursive: true, force: true });
    process.stdout.write(`removed every package and index in ${cache}\n`);
  }
  if (targets.some((t) => t.current)) {
    // the pointers name the removed directory: without them the next run builds the guest again
    for (const f of (await listPointers(cache))) rmSync(join(cache, 'guests', f), { force: true });
    process.stdout.write("the default guest is gone: the next 'tvisor run' (or 'tvisor image pull') builds it again\n");
  }
  return 0;
}

/** The current-<suite>.json pointers whose guest directory no longer exists. */
async function listPointers(cache: string): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: string[] = [];
  let names: string[] = [];
  try {
    names = await readdir(join(cache, 'guests'));
  } catch {
    return out;
  }
  for (const f of names.filter((n) => /^current-.+\.json$/.test(n))) {
    try {
      const { dir } = JSON.parse(await readFile(join(cache, 'guests', f), 'utf8')) as { dir: string };
      statSync(join(cache, 'guests', dir));
    } catch {
      out.push(f);
    }
  }
  return out;
}

// ---- image resize ----

const EXT_MAGIC = 0xef53;

/** Whether the image starts with an ext2/3/4 filesystem (superblock at 1024, s_magic at offset 56). */
function hasExtFilesystem(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 1024 + 56) === 2 && b.readUInt16LE(0) === EXT_MAGIC;
  } finally {
    closeSync(fd);
  }
}

/** An e2fsprogs tool from $PATH, /usr/sbin or /sbin (Debian puts them in sbin, often outside a user's PATH). */
function e2fsTool(name: string): string {
  const dirs = [...new Set([...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/sbin', '/sbin'])];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new InputError(`${name} not found in ${dirs.join(':')}; install e2fsprogs: apt-get install e2fsprogs`);
}

function run(cmd: string, args: string[]): Promise<{ status: number; out: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      done({ status: error ? (typeof code === 'number' ? code : 127) : 0, out: `${stderr}\n${stdout}` });
    });
  });
}

const firstLine = (text: string) => text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^(resize2fs|e2fsck) \d/.test(l)) ?? 'no message';

/** The new size from SIZE (absolute) or +SIZE (more), in bytes, a whole number of KiB. */
export function parseNewSize(text: string, current: number): number {
  const grow = text.startsWith('+');
  const bytes = parseSize(grow ? text.slice(1) : text, 'SIZE', 'image');
  if (bytes % 1024 !== 0) throw new UsageError(`SIZE ${text} is not a whole number of KiB`, 'image');
  return grow ? current + bytes : bytes;
}

/**
 * Grows the raw image at `path` to `sizeText` and, when it holds an ext2/3/4 filesystem (the whole disk, as
 * `image build` makes), the filesystem with it: e2fsck -f -p first (resize2fs needs a clean check; a failure
 * leaves the file as it was), then the file, then resize2fs. Never shrinks. The image's writer lock is
 * held throughout, so a VM that has it open refuses this, and no VM opens it meanwhile.
 */
export async function imageResize(path: string, sizeText: string): Promise<number> {
  const file = resolve(path);
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new InputError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new InputError(`${path}: not a regular file (give a raw disk image)`);
  const size = parseNewSize(sizeText, st.size);
  if (size < st.size) {
    throw new UsageError(`${path} is ${formatBytes(st.size)}; shrinking is not supported (the filesystem and the data beyond the new end would be lost): make a new image and copy the files`, 'image');
  }
  if (size === st.size) {
    process.stdout.write(`${path}: already ${formatBytes(size)}; nothing to do\n`);
    return 0;
  }
  let lock;
  try {
    lock = openDiskImage({ path: file, readOnly: false, owner: 'tvisor image resize' });
  } catch (e) {
    if (!(e instanceof DiskError)) throw e;
    const why = e.message.replace(/; use ,readonly to share it$/, '');
    throw new ClientError(`${why}; stop the VM first (a running guest must not see its disk change under it)`, 'conflict');
  }
  try {
    const ext = hasExtFilesystem(file);
    if (ext) {
      const check = await run(e2fsTool('e2fsck'), ['-f', '-p', file]);
      if (check.status >= 4) throw new InputError(`${path}: e2fsck found errors it could not fix (status ${check.status}): ${firstLine(check.out)}; run e2fsck -f ${path} yourself, then try again; the image is unchanged`);
    }
    truncateSync(file, size);
    const fd = openSync(file, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (ext) {
      const grown = await run(e2fsTool('resize2fs'), [file]);
      if (grown.status !== 0) throw new InputError(`${path}: the file is now ${formatBytes(size)} but resize2fs failed (status ${grown.status}): ${firstLine(grown.out)}`);
    }
    process.stdout.write(`${path}: ${formatBytes(st.size)} -> ${formatBytes(size)}${ext
      ? '; its ext filesystem was grown to fill it (the guest sees the space at its next boot)'
      : '; no ext2/3/4 filesystem at its start, so only the file grew: grow the partition or filesystem inside the guest'}\n`);
    return 0;
  } finally {
    lock.close();
  }
}
