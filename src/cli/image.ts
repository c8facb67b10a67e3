// `tvisor image pull|ls`: fetches the default guest (Debian's riscv64 kernel, busybox and OpenSBI) into the
// cache and builds its initramfs, or lists what the cache holds. Failures are one line with status 2.
import { ImageError } from '../images/errors.js';
import { DEFAULT_SUITE, defaultCacheDir, listCache, pullDefaultGuest } from '../images/node/guest.js';
import { formatBytes } from '../images/node/progress.js';
import { InputError, parseCommandLine, UsageError } from './args.js';

export const IMAGE_SUMMARY = 'Fetch the default guest from Debian (image pull) or list the cache (image ls)';

export const IMAGE_HELP = `Usage: tvisor image pull [options]
       tvisor image ls [--cache DIR]

pull   Fetches Debian's current riscv64 kernel (the package linux-image-riscv64 depends on),
       busybox-static and opensbi, checks each against the archive's signed index (InRelease,
       then the SHA-256 of the Packages index, then of each package), and builds the default
       guest: the kernel Image, an initramfs with busybox, the virtio and ext4 modules and an
       init that starts a shell on the console, and OpenSBI's fw_dynamic.bin. Packages already
       in the cache are not downloaded again; with --offline nothing is.
ls     Lists the cached indexes, packages and guests with their versions and sizes.

Options:
  --mirror URL    Debian mirror to use (default: the Debian mirror in the host's APT sources,
                  /etc/apt/sources.list and /etc/apt/sources.list.d/)
  --suite NAME    Debian suite (default: ${DEFAULT_SUITE})
  --cache DIR     cache directory (default: $TVISOR_CACHE, else $XDG_CACHE_HOME/tvisor,
                  else ~/.cache/tvisor)
  --offline       use only the cache; fail if something is missing
  -h, --help      show this help

Environment:
  TVISOR_CACHE    cache directory (as --cache)
  TVISOR_KEYRING  colon-separated OpenPGP keyrings to trust instead of the host's Debian
                  archive keyrings in /usr/share/keyrings

Exit status:
  0   success
  2   bad input: bad option, download or checksum failure, nothing cached with --offline
  70  internal error in tvisor (please report it)
`;

const OPTIONS = {
  mirror: { type: 'string' },
  suite: { type: 'string' },
  cache: { type: 'string' },
  offline: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs `tvisor image …`; returns the exit status. */
export async function imageCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS, 'image');
  if (values.help) {
    process.stdout.write(IMAGE_HELP);
    return 0;
  }
  const sub = positionals[0];
  if (sub === undefined) throw new UsageError("image needs a subcommand: 'pull' or 'ls'", 'image');
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`, 'image');
  const cacheDir = typeof values.cache === 'string' ? values.cache : undefined;
  if (cacheDir === '') throw new UsageError('--cache needs a directory', 'image');
  try {
    switch (sub) {
      case 'pull':
        return await pull(values, cacheDir);
      case 'ls':
        for (const option of ['mirror', 'suite', 'offline']) {
          if (values[option] !== undefined) throw new UsageError(`option '--${option}' does not apply to 'image ls'`, 'image');
        }
        return await ls(cacheDir);
      default:
        throw new UsageError(`unknown image subcommand '${sub}' (expected 'pull' or 'ls')`, 'image');
    }
  } catch (e) {
    if (e instanceof ImageError) throw new InputError(e.message.replace(/\s*\n[\s\S]*/, ''));
    throw e;
  }
}

async function pull(values: Record<string, string | boolean | undefined>, cacheDir: string | undefined): Promise<number> {
  const suite = typeof values.suite === 'string' ? values.suite : undefined;
  if (suite !== undefined && !/^[a-z0-9][a-z0-9.+-]*$/.test(suite)) {
    throw new UsageError(`invalid --suite '${suite}'`, 'image');
  }
  const mirror = typeof values.mirror === 'string' ? values.mirror : undefined;
  if (mirror !== undefined && !/^https?:\/\/[^/\s]+/i.test(mirror)) {
    throw new UsageError(`invalid --mirror '${mirror}' (expected an http:// or https:// URL)`, 'image');
  }
  const guest = await pullDefaultGuest({ cacheDir, mirror, suite, offline: values.offline === true, log });
  const p = guest.manifest.packages;
  process.stdout.write(
    `kernel     ${guest.kernel}\n` +
      `initrd     ${guest.initrd}\n` +
      `firmware   ${guest.firmware}\n` +
      `version    Linux ${guest.kernelVersion} (${p.kernel.package} ${p.kernel.version}), ` +
      `busybox ${p.busybox.version}, opensbi ${p.opensbi.version}\n` +
      `modules    ${guest.manifest.modules.join(' ')}\n`,
  );
  return 0;
}

async function ls(cacheDir: string | undefined): Promise<number> {
  const listing = await listCache({ cacheDir: cacheDir ?? defaultCacheDir() });
  const out: string[] = [`cache ${listing.cacheDir}`];
  if (listing.indexes.length + listing.debs.length + listing.guests.length === 0) {
    out.push("(empty: run 'tvisor image pull')");
  }
  if (listing.indexes.length) {
    out.push('', 'indexes:');
    for (const i of listing.indexes) out.push(`  ${i.suite.padEnd(10)} Debian ${i.version || '?'}${i.date ? `, ${i.date.slice(0, 10)}` : ''}`);
  }
  if (listing.guests.length) {
    out.push('', 'guests:');
    for (const g of listing.guests) {
      const p = g.manifest.packages;
      out.push(
        `${g.current ? '* ' : '  '}${g.name}  ${formatBytes(g.size)}  (${g.manifest.suite}: linux ${p.kernel.version}, ` +
          `busybox ${p.busybox.version}, opensbi ${p.opensbi.version}; ${g.manifest.modules.length} modules)`,
      );
    }
  }
  if (listing.debs.length) {
    out.push('', 'packages:');
    const width = Math.max(...listing.debs.map((d) => d.file.length));
    for (const d of listing.debs) out.push(`  ${d.file.padEnd(width)}  ${formatBytes(d.size).padStart(10)}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
