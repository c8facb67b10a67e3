// Finding the Debian mirror the host already uses, from APT's source lists: the one-line format
// (/etc/apt/sources.list, *.list) and the deb822 format (*.sources). tvisor never names a mirror itself.
// Pure parsing; the Node side reads the files.

export interface AptSource {
  /** The file the entry came from (for messages). */
  file: string;
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** Parses a one-line-format file: `deb [option=value ...] URI SUITE [COMPONENT...]`. */
export function parseOneLineSources(text: string, file = 'sources.list'): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    let rest = line;
    const typeMatch = /^(\S+)\s+/.exec(rest);
    if (!typeMatch) continue;
    const type = typeMatch[1];
    rest = rest.slice(typeMatch[0].length);
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) continue;
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (!uri || !suite) continue;
    sources.push({ file, types: [type], uris: [uri], suites: [suite], components, enabled: true });
  }
  return sources;
}

/** Parses the paragraphs of a deb822 text into field maps (field names lower-cased; continuations joined). */
export function parseDeb822(text: string): Map<string, string>[] {
  const paragraphs: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey: string | undefined;
  const finish = (): void => {
    if (current.size > 0) paragraphs.push(current);
    current = new Map();
    lastKey = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      finish();
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (lastKey !== undefined) current.set(lastKey, `${current.get(lastKey)}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    lastKey = line.slice(0, colon).trim().toLowerCase();
    current.set(lastKey, line.slice(colon + 1).trim());
  }
  finish();
  return paragraphs;
}

/** Parses a deb822-format .sources file. */
export function parseDeb822Sources(text: string, file = 'debian.sources'): AptSource[] {
  const words = (value: string | undefined): string[] => (value ?? '').split(/\s+/).filter((w) => w !== '');
  return parseDeb822(text)
    .filter((p) => p.has('uris'))
    .map((p) => ({
      file,
      types: words(p.get('types')),
      uris: words(p.get('uris')),
      suites: words(p.get('suites')),
      components: words(p.get('components')),
      enabled: !/^(no|false|0)$/i.test(p.get('enabled') ?? 'yes'),
    }));
}

/** Debian's release codenames and aliases (a suite name we accept as "this is a Debian archive"). */
const DEBIAN_SUITES = new Set([
  'hamm', 'slink', 'potato', 'woody', 'sarge', 'etch', 'lenny', 'squeeze', 'wheezy', 'jessie', 'stretch',
  'buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke', 'sid', 'experimental', 'rc-buggy',
  'stable', 'testing', 'unstable', 'oldstable', 'oldoldstable',
]);

function baseSuite(suite: string): { base: string; pocket: string } {
  const m = /^([a-z-]+?)(-(updates|security|backports|backports-sloppy|proposed-updates))?$/.exec(suite);
  return m ? { base: m[1], pocket: m[3] ?? '' } : { base: suite, pocket: '' };
}

/**
 * Picks the Debian archive mirror among the host's sources: an enabled `deb` entry over http(s) with a
 * Debian release suite that is not the security archive. Entries listing a plain release (e.g. `bookworm`)
 * win over entries with only -updates/-backports pockets. Returns the URI without a trailing "/", or
 * undefined when there is none (non-Debian hosts, or only third-party repositories).
 */
export function pickDebianMirror(sources: AptSource[]): string | undefined {
  let fallback: string | undefined;
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb')) continue;
    const suites = s.suites.map(baseSuite).filter((x) => DEBIAN_SUITES.has(x.base));
    if (suites.length === 0 || suites.every((x) => x.pocket === 'security')) continue;
    const uri = s.uris.find((u) => /^https?:\/\//i.test(u));
    if (!uri) continue;
    const clean = uri.replace(/\/+$/, '');
    if (/[-/]security$/i.test(clean)) continue;
    if (suites.some((x) => x.pocket === '')) return clean;
    fallback ??= clean;
  }
  return fallback;
}
