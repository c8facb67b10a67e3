// The Debian archive's index files: the Release file (signed as InRelease), which lists the SHA-256 of each
// Packages index, and the Packages index, which lists the SHA-256 of each .deb. Also Debian version ordering
// and Depends parsing. Pure functions; downloads and signature checks live in ./node/.
import { ImageError } from './errors.js';
import { parseDeb822 } from './sources.js';

export class ArchiveError extends ImageError {
  override name = 'ArchiveError';
}

export interface ChecksumEntry {
  sha256: string;
  size: number;
}

export interface ReleaseInfo {
  codename: string;
  suite: string;
  version: string;
  date: Date | undefined;
  validUntil: Date | undefined;
  architectures: string[];
  components: string[];
  acquireByHash: boolean;
  /** Path relative to dists/<suite>/ → checksum. */
  sha256: Map<string, ChecksumEntry>;
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Parses a Release file (the signed text of InRelease). */
export function parseRelease(text: string): ReleaseInfo {
  const paragraph = parseDeb822(text)[0];
  if (!paragraph) throw new ArchiveError('Release file is empty');
  const sha256 = new Map<string, ChecksumEntry>();
  for (const line of (paragraph.get('sha256') ?? '').split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const [hash, size, path] = parts;
    if (!/^[0-9a-f]{64}$/i.test(hash) || !/^\d+$/.test(size)) continue;
    sha256.set(path, { sha256: hash.toLowerCase(), size: Number(size) });
  }
  if (sha256.size === 0) throw new ArchiveError('Release file has no SHA256 checksums');
  const words = (key: string): string[] => (paragraph.get(key) ?? '').split(/\s+/).filter((w) => w);
  return {
    codename: paragraph.get('codename') ?? '',
    suite: paragraph.get('suite') ?? '',
    version: paragraph.get('version') ?? '',
    date: parseDate(paragraph.get('date')),
    validUntil: parseDate(paragraph.get('valid-until')),
    architectures: words('architectures'),
    components: words('components'),
    acquireByHash: /^yes$/i.test(paragraph.get('acquire-by-hash') ?? ''),
    sha256,
  };
}

/** Checks that a Release file describes the suite we asked for (codename or suite name). */
export function checkReleaseSuite(release: ReleaseInfo, suite: string): void {
  if (release.codename !== suite && release.suite !== suite) {
    throw new ArchiveError(
      `the archive's Release file is for '${release.codename || release.suite}', not '${suite}'`,
    );
  }
}

export interface PackageRecord {
  package: string;
  version: string;
  architecture: string;
  /** Path relative to the mirror root (pool/main/...). */
  filename: string;
  size: number;
  sha256: string;
  depends: string;
  /** Every field of the stanza (absent in records restored from the cache). */
  fields?: Map<string, string>;
}

const decoder = new TextDecoder();

/**
 * Finds the stanzas of the named packages in a Packages index (decompressed bytes), without building a
 * record for the other ~60,000 packages. Returns every version present for each name.
 */
export function findPackages(index: Uint8Array | string, names: Iterable<string>): Map<string, PackageRecord[]> {
  const text = typeof index === 'string' ? index : decoder.decode(index);
  const wanted = new Set(names);
  const found = new Map<string, PackageRecord[]>();
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n\n', at);
    if (end < 0) end = text.length;
    // "Package:" is the first field of each stanza in the archive's indexes.
    const lineEnd = text.indexOf('\n', at);
    const first = text.slice(at, lineEnd < 0 || lineEnd > end ? end : lineEnd);
    const m = /^Package:\s*(\S+)/.exec(first);
    if (m && wanted.has(m[1])) {
      const record = toPackageRecord(parseDeb822(text.slice(at, end))[0]);
      const list = found.get(record.package) ?? [];
      list.push(record);
      found.set(record.package, list);
    }
    at = end + 2;
  }
  return found;
}

function toPackageRecord(fields: Map<string, string>): PackageRecord {
  const need = (key: string): string => {
    const v = fields.get(key);
    if (!v) throw new ArchiveError(`Packages index: stanza for '${fields.get('package') ?? '?'}' has no ${key} field`);
    return v;
  };
  const sha256 = need('sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ArchiveError(`Packages index: bad SHA256 for '${need('package')}'`);
  const size = need('size');
  if (!/^\d+$/.test(size)) throw new ArchiveError(`Packages index: bad Size for '${need('package')}'`);
  const filename = need('filename');
  if (filename.split('/').includes('..') || filename.startsWith('/')) {
    throw new ArchiveError(`Packages index: unsafe Filename '${filename}'`);
  }
  return {
    package: need('package'),
    version: need('version'),
    architecture: fields.get('architecture') ?? '',
    filename,
    size: Number(size),
    sha256,
    depends: fields.get('depends') ?? '',
    fields,
  };
}

/** Picks the highest version among a package's records. */
export function newest(records: PackageRecord[] | undefined): PackageRecord | undefined {
  if (!records || records.length === 0) return undefined;
  return records.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
}

export interface Dependency {
  name: string;
  /** e.g. "=", ">=", "<<" */
  relation?: string;
  version?: string;
}

/** Parses a Depends field into its and-list of or-lists of alternatives. */
export function parseDepends(text: string): Dependency[][] {
  return text
    .split(',')
    .map((group) => group.trim())
    .filter((group) => group !== '')
    .map((group) =>
      group.split('|').map((alt) => {
        const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?/i.exec(alt);
        if (!m) throw new ArchiveError(`cannot parse dependency '${alt.trim()}'`);
        return m[2] ? { name: m[1], relation: m[2], version: m[3] } : { name: m[1] };
      }),
    );
}

// Debian version ordering (Debian Policy §5.6.12): [epoch:]upstream[-revision], compared part by part;
// within a part, non-digit runs compare with '~' before everything (even the end) and letters before
// other characters, and digit runs compare numerically.
function charOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit prefix.
    while ((i < a.length && !/\d/.test(a[i])) || (j < b.length && !/\d/.test(b[j]))) {
      const ca = i < a.length && !/\d/.test(a[i]) ? a[i] : undefined;
      const cb = j < b.length && !/\d/.test(b[j]) ? b[j] : undefined;
      const d = charOrder(ca) - charOrder(cb);
      if (d !== 0) return d < 0 ? -1 : 1;
      if (ca !== undefined) i++;
      if (cb !== undefined) j++;
    }
    // Digit run.
    let na = '';
    let nb = '';
    while (i < a.length && /\d/.test(a[i])) na += a[i++];
    while (j < b.length && /\d/.test(b[j])) nb += b[j++];
    const ba = BigInt(na || '0');
    const bb = BigInt(nb || '0');
    if (ba !== bb) return ba < bb ? -1 : 1;
  }
  return 0;
}

function splitVersion(v: string): [bigint, string, string] {
  const colon = v.indexOf(':');
  const epoch = colon >= 0 ? BigInt(v.slice(0, colon) || '0') : 0n;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
}

/** Compares two Debian versions: negative, 0 or positive as a < b, a = b, a > b. */
export function compareVersions(a: string, b: string): number {
  const [ea, ua, ra] = splitVersion(a);
  const [eb, ub, rb] = splitVersion(b);
  if (ea !== eb) return ea < eb ? -1 : 1;
  return compareFragment(ua, ub) || compareFragment(ra, rb);
}

/** Throws a clear error when data does not match the checksum the (verified) index gave for it. */
export function checkDigest(what: string, expected: ChecksumEntry, actualSha256: string, actualSize: number): void {
  if (actualSize !== expected.size) {
    throw new ArchiveError(`${what}: size mismatch (expected ${expected.size} bytes, got ${actualSize})`);
  }
  if (actualSha256.toLowerCase() !== expected.sha256) {
    throw new ArchiveError(`${what}: SHA-256 mismatch (expected ${expected.sha256}, got ${actualSha256.toLowerCase()})`);
  }
}

/** What tvisor fetches: the kernel the linux-image metapackage points at, busybox, and OpenSBI. */
export interface GuestPackages {
  kernel: PackageRecord;
  busybox: PackageRecord;
  opensbi: PackageRecord;
  /** e.g. "6.12.117+deb13-riscv64" */
  kernelVersion: string;
}

export const KERNEL_METAPACKAGE_PREFIX = 'linux-image-';

/**
 * Resolves the guest packages in a Packages index: `linux-image-<arch>` depends on the current kernel
 * package `linux-image-<version>`; `busybox-static` and `opensbi` are taken as they are.
 */
export function selectGuestPackages(index: Uint8Array | string, arch: string): GuestPackages {
  const meta = `linux-image-${arch}`;
  const first = findPackages(index, [meta, 'busybox-static', 'opensbi']);
  const metaRecord = newest(first.get(meta));
  if (!metaRecord) throw new ArchiveError(`the Packages index has no '${meta}' package`);
  const candidates = parseDepends(metaRecord.depends)
    .map((alternatives) => alternatives[0])
    .filter((d) => d.name.startsWith(KERNEL_METAPACKAGE_PREFIX) && d.name !== meta);
  if (candidates.length === 0) throw new ArchiveError(`'${meta}' does not depend on a linux-image package`);
  const second = findPackages(index, candidates.map((c) => c.name));
  for (const dep of candidates) {
    const records = second.get(dep.name) ?? [];
    const exact = dep.relation === '=' ? records.find((r) => r.version === dep.version) : undefined;
    const kernel = exact ?? newest(records);
    if (!kernel) continue;
    const busybox = newest(first.get('busybox-static'));
    const opensbi = newest(first.get('opensbi'));
    if (!busybox) throw new ArchiveError("the Packages index has no 'busybox-static' package");
    if (!opensbi) throw new ArchiveError("the Packages index has no 'opensbi' package");
    return { kernel, busybox, opensbi, kernelVersion: kernel.package.slice(KERNEL_METAPACKAGE_PREFIX.length) };
  }
  throw new ArchiveError(`the kernel package '${meta}' depends on (${candidates[0].name}) is not in the index`);
}
