// Kernel module dependency resolution without depmod: the modules a guest needs, plus everything their
// `depends=` and `softdep=` entries pull in, in an order insmod can load them. Soft dependencies may name an
// alias (e.g. "crypto-crc32c"), which is resolved against built-in modules and then the modules' own
// `alias=` entries. No Node APIs.
import { ImageError } from './errors.js';
import { canonicalModuleName, type Modinfo } from './modinfo.js';

/** The loadable modules of one kernel and what is built in. */
export interface ModuleTree {
  /** Canonical module name → its path in the module tree (e.g. "kernel/fs/ext4/ext4.ko.xz"). */
  paths: Map<string, string>;
  /** Canonical names of modules built into the kernel image. */
  builtin: Set<string>;
  /** Aliases of built-in modules (from modules.builtin.modinfo). */
  builtinAliases: Map<string, string>;
  /** Reads the modinfo of a loadable module (by canonical name); implementations should cache. */
  modinfo(name: string): Promise<Modinfo>;
}

export interface ResolvedModules {
  /** Loadable modules in load order (dependencies first), canonical names. */
  order: string[];
  /** Requested modules that are built into the kernel (nothing to load). */
  builtin: string[];
  /** Soft dependencies that matched no module (they are optional). */
  unresolvedSoftdeps: string[];
}

export class ModuleResolveError extends ImageError {
  override name = 'ModuleResolveError';
}

/** fnmatch-style matching of module aliases ('*', '?', '[...]'), as modprobe does. */
export function aliasMatches(pattern: string, name: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === name;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(name);
}

/** Resolves a module name or alias to a loadable module, 'builtin', or undefined. */
export async function resolveName(
  tree: ModuleTree,
  wanted: string,
  log?: (line: string) => void,
): Promise<string | 'builtin' | undefined> {
  const canonical = canonicalModuleName(wanted);
  if (tree.builtin.has(canonical)) return 'builtin';
  if (tree.paths.has(canonical)) return canonical;
  for (const [alias] of tree.builtinAliases) if (aliasMatches(alias, wanted)) return 'builtin';
  const hasAlias = async (name: string): Promise<boolean> =>
    (await tree.modinfo(name)).aliases.some((a) => aliasMatches(a, wanted));
  // Cheap guesses first: crypto aliases are "crypto-<alg>", usually provided by "<alg>_generic".
  const stem = canonicalModuleName(wanted.replace(/^crypto-/, ''));
  for (const guess of [stem, `${stem}_generic`]) {
    if (tree.paths.has(guess) && (await hasAlias(guess))) return guess;
  }
  log?.(`searching every module's aliases for '${wanted}'`);
  for (const name of [...tree.paths.keys()].sort()) {
    if (await hasAlias(name)) return name;
  }
  return undefined;
}

/**
 * Computes the load order for `roots` and their dependencies. Hard dependencies (`depends=`) that are
 * missing are an error; soft dependencies that cannot be resolved are reported and skipped.
 */
export async function resolveModules(
  tree: ModuleTree,
  roots: string[],
  log?: (line: string) => void,
): Promise<ResolvedModules> {
  const order: string[] = [];
  const builtin: string[] = [];
  const unresolvedSoftdeps: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();

  const visit = async (name: string, chain: string[]): Promise<void> => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      throw new ModuleResolveError(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    }
    state.set(name, 'visiting');
    const info = await tree.modinfo(name);
    for (const dep of info.depends) {
      if (tree.builtin.has(dep)) continue;
      if (!tree.paths.has(dep)) throw new ModuleResolveError(`module '${name}' depends on '${dep}', which is not in the kernel package`);
      await visit(dep, [...chain, name]);
    }
    const soft = async (wanted: string): Promise<void> => {
      const target = await resolveName(tree, wanted, log);
      if (target === 'builtin' || target === name) return;
      if (target === undefined) {
        if (!unresolvedSoftdeps.includes(wanted)) unresolvedSoftdeps.push(wanted);
        return;
      }
      // A soft dependency that is already being visited further up is satisfied by that module's order.
      if (state.get(target) === 'visiting') return;
      await visit(target, [...chain, name]);
    };
    for (const dep of info.softPre) await soft(dep);
    state.set(name, 'done');
    order.push(name);
    for (const dep of info.softPost) await soft(dep);
  };

  for (const root of roots) {
    const target = await resolveName(tree, root, log);
    if (target === 'builtin') {
      builtin.push(canonicalModuleName(root));
      continue;
    }
    if (target === undefined) throw new ModuleResolveError(`the kernel has no module '${root}' (neither built in nor loadable)`);
    await visit(target, []);
  }
  return { order, builtin, unresolvedSoftdeps };
}
