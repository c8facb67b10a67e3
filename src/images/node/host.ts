// The host's APT configuration: which Debian mirror it uses (tvisor never names a mirror itself).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeb822Sources, parseOneLineSources, pickDebianMirror, type AptSource } from '../sources.js';

export const APT_DIR = '/etc/apt';

/** Reads sources.list, sources.list.d/*.list and sources.list.d/*.sources under `aptDir`. */
export function readHostSources(aptDir = APT_DIR): AptSource[] {
  const sources: AptSource[] = [];
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const main = read(join(aptDir, 'sources.list'));
  if (main !== undefined) sources.push(...parseOneLineSources(main, join(aptDir, 'sources.list')));
  let names: string[] = [];
  try {
    names = readdirSync(join(aptDir, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d
  }
  for (const name of names) {
    const path = join(aptDir, 'sources.list.d', name);
    const text = name.endsWith('.list') || name.endsWith('.sources') ? read(path) : undefined;
    if (text === undefined) continue;
    sources.push(...(name.endsWith('.list') ? parseOneLineSources(text, path) : parseDeb822Sources(text, path)));
  }
  return sources;
}

/** The host's Debian mirror, or undefined. */
export function hostDebianMirror(aptDir = APT_DIR): string | undefined {
  return pickDebianMirror(readHostSources(aptDir));
}
