// `tvisor serve`: the hypervisor daemon in the foreground — the VM manager with its credit scheduler, one
// worker thread per VM, the HTTP API on loopback or a UNIX socket, definitions kept in a state directory.
import { Worker } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { connect } from 'node:net';
import { availableParallelism, homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { lstatSync, rmSync, statSync } from 'node:fs';
import { VmManager, type VmThread } from '../hypervisor/manager.js';
import { ThreadPool, type HostWorker } from '../hypervisor/thread-pool.js';
import { SpareThreads } from '../hypervisor/spare-threads.js';
import { VmStore, StoreError } from '../host/node/store.js';
import { createApiServer, DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT_S } from '../api/server.js';
import { readTokenFile } from './client.js';
import { badKernel } from '../hypervisor/errors.js';
import { parseKernelImage } from '../core/machine/linux.js';
import type { BootFile } from '../core/machine/boot-file.js';
import { bootFile } from '../host/node/boot-file.js';
import { FileRefused } from '../host/node/confined-open.js';
import { releaseAbandonedLocks } from '../host/node/block-file.js';
import { openSnapshotSource } from '../host/node/snapshot-file.js';
import { connectDaemon } from '../host/node/migration-link.js';
import { RAM_BASE } from '../core/machine/board.js';
import type { FromHost, FromVm, ToHost, ToVm } from '../hypervisor/protocol.js';
import { currentGuest, defaultCacheDir } from '../images/index.js';
import { checkPathsAllowed } from '../hypervisor/paths.js';
import type { GuestImageInfo } from '../hypervisor/model.js';
import { InputError, parseCommandLine, parseCount, parseSeconds, parseSize, UsageError } from './args.js';
import { DEFAULT_CMDLINE } from './run.js';
import { jitHelp, jitModeOf } from './jit.js';
import type { WorkerSetup } from '../host/node/worker-setup.js';

export const SERVE_SUMMARY = 'Run the hypervisor daemon: many VMs, an HTTP API, a credit scheduler';

export const SERVE_HELP = `Usage: tvisor serve [options]

Runs the hypervisor in the foreground: VMs are created and driven through a JSON HTTP API (described at
GET /v1/openapi.json), each in its own thread (or up to N per thread with --vms-per-thread); a credit
scheduler shares the host CPUs among them by weight and cap. VM definitions persist in the state directory
and VMs that were running start again.

Options:
  --listen HOST:PORT     listen on TCP (default 127.0.0.1:7477); a non-loopback address needs a token
  --socket PATH          listen on a UNIX socket instead
  --token TOKEN          require "Authorization: Bearer TOKEN" on every request (visible in ps: prefer
                         --token-file or $TVISOR_TOKEN)
  --token-file PATH      the same, with the token read from the first line of PATH, which must be private to
                         its owner (chmod 600); without either option, $TVISOR_TOKEN is the token if set
  --max-connections N    open connections (console WebSockets included) beyond which new ones are refused
                         (default ${DEFAULT_MAX_CONNECTIONS})
  --request-timeout S    seconds a client has to send a whole request (default ${DEFAULT_REQUEST_TIMEOUT_S}); its headers must
                         arrive within 10 s (or S if less), and idle keep-alive connections close after 5 s
  --pcpus N              host CPUs to run vCPUs on (default: ${availableParallelism()})
  --memory-budget SIZE   total guest memory the daemon admits (default: 3/4 of host memory)
  --state-dir DIR        where VM definitions live (default: $XDG_STATE_HOME/tvisor or ~/.local/state/tvisor);
                         one daemon per directory, so a second daemon of one user needs its own
  --allow-dir DIR        directories API clients may name files in (repeatable; default: the image cache)
  --vms-per-thread N     pack up to N single-vCPU VMs into one host thread (default 1): a thread costs ~8 MiB
                         of host memory before it holds a VM, so dense hosts of mostly idle VMs gain; VMs of
                         one thread never run at the same time, and if the thread dies all of them crash;
                         when two of them are busy while a host CPU is free, one is moved, live, to another
                         thread (checked every 2 s; each VM moved at most once in 30 s)
  --no-rebalance         with --vms-per-thread: never move VMs between threads by themselves
${jitHelp(23)}; the same for every VM
  -q, --quiet            no request log (by default one line per request on stderr: method, path,
                         status, milliseconds; never the token)
  -h, --help             show this help

Stop the daemon with Ctrl-C (SIGINT) or SIGTERM: running VMs are stopped and start again next time.
`;

const OPTIONS = {
  listen: { type: 'string' },
  socket: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'max-connections': { type: 'string' },
  'request-timeout': { type: 'string' },
  pcpus: { type: 'string' },
  'memory-budget': { type: 'string' },
  'state-dir': { type: 'string' },
  'allow-dir': { type: 'string', multiple: true },
  'vms-per-thread': { type: 'string' },
  'no-rebalance': { type: 'boolean' },
  jit: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How often a daemon packing VMs looks for busy ones sharing a thread while a host CPU is free. */
const REBALANCE_MS = 2000;

/** The XDG base directory spec's place for state that survives restarts: $XDG_STATE_HOME, else ~/.local/state. */
function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'tvisor');
}

/**
 * A Node worker running one of src/host/node's thread scripts: a VM thread (ToHost/FromHost messages, VMs on
 * channels) or a hart thread of a multi-vCPU VM (ToVm/FromVm). Workers made after this get a `gc()`: a VM
 * thread collects when its idle VMs have let go of decoded code (megabytes of garbage that a thread of idle
 * VMs, allocating next to nothing, would otherwise keep resident for good).
 */
function spawnWorker<In, Out>(script: 'vm-thread' | 'hart-thread', data: WorkerSetup) {
  setFlagsFromString('--expose-gc');
  // The interpreter allocates next to nothing per instruction: a young generation of 4 MiB (V8 lets it grow to
  // tens of MiB) saves ~3 MiB per thread and boots a guest no slower.
  const w = new Worker(new URL(`../host/node/${script}.js`, import.meta.url), {
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    workerData: data,
  });
  let exitFn: (reason: string) => void = () => {};
  let messageFn: (m: Out) => void = () => {};
  w.on('message', (m: Out) => messageFn(m));
  let ended = false;
  w.on('error', (e) => {
    if (!ended) exitFn(`internal error: ${e.message}`);
    ended = true;
  });
  w.on('exit', (code) => {
    if (!ended) exitFn(`exit code ${code}`);
    ended = true;
  });
  return {
    send: (m: In, transfer?: ArrayBuffer[]) => w.postMessage(m, transfer ?? []),
    onMessage: (fn: (m: Out) => void) => (messageFn = fn),
    onExit: (fn: (reason: string) => void) => (exitFn = fn),
    terminate: () => {
      ended = true;
      void w.terminate();
    },
  };
}

/**
 * A socket file left by an earlier daemon is removed; one that a live process still answers on, or anything
 * that is not a socket, is refused and never deleted.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new InputError(`--socket ${path}: a file that is not a socket is in the way; choose another path`);
  const live = await new Promise<boolean>((done) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      done(true);
    });
    c.once('error', () => done(false));
  });
  if (live) throw new InputError(`--socket ${path}: another process is listening there (another tvisor serve?)`);
  rmSync(path, { force: true });
}

/**
 * Refuses a file that is not a RISC-V Linux Image or ELF kernel (at create), with bounded reads on the thread
 * that schedules every VM: opened non-blocking and confined (confined-open.ts), an Image judged by its header
 * and size, an ELF by its ELF and program headers; the kernel's body is read by the VM thread at start.
 */
function kernelChecker(allowedDirs: readonly string[]): (path: string) => void {
  return (path) => {
    let file: BootFile;
    try {
      file = bootFile(path, { label: 'kernel', allowedDirs });
    } catch (e) {
      throw badKernel('kernel', path, e instanceof FileRefused ? e.detail : (e as Error).message);
    }
    try {
      parseKernelImage(file, RAM_BASE);
    } catch (e) {
      throw badKernel('kernel', path, (e as Error).message);
    }
  };
}

/** A file's identity (device and inode) for the manager's check that no two VMs write one image; its path when missing. */
function fileIdentity(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}-${st.ino}`;
  } catch {
    return `path:${path}`;
  }
}

/** GET /v1/images: the default guest of the image cache, when built and in an allowed directory. */
async function cachedImages(allowed: string[]): Promise<GuestImageInfo[]> {
  const g = await currentGuest();
  if (!g) return [];
  try {
    checkPathsAllowed([{ field: 'kernel', path: g.kernel }, { field: 'initrd', path: g.initrd }], allowed);
  } catch {
    return [];
  }
  return [{
    name: 'default', description: `Debian ${g.manifest.suite} (riscv64): Linux ${g.kernelVersion}, busybox initramfs`,
    kernel: g.kernel, initrd: g.initrd, cmdline: DEFAULT_CMDLINE,
  }];
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, OPTIONS, 'serve');
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'serve');
  const pcpus = values.pcpus === undefined ? availableParallelism() : Number(values.pcpus);
  if (!Number.isInteger(pcpus) || pcpus < 1 || pcpus > 256) throw new UsageError(`--pcpus must be a whole number from 1 to 256, got '${values.pcpus}'`, 'serve');
  const budget = values['memory-budget'] === undefined
    ? Math.floor((totalmem() * 3) / 4 / 2 ** 20)
    : parseSize(values['memory-budget'] as string, '--memory-budget', 'serve') / 2 ** 20;
  if (values.listen !== undefined && values.socket !== undefined) throw new UsageError('give --listen or --socket, not both', 'serve');
  const listen = (values.listen as string | undefined) ?? '127.0.0.1:7477';
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (values.socket === undefined && !m) throw new UsageError(`--listen must be HOST:PORT, got '${listen}'`, 'serve');
  const host = m ? m[1].replace(/^\[|\]$/g, '') : '';
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both', 'serve');
  const token = (values.token as string | undefined) ??
    (values['token-file'] !== undefined ? readTokenFile(values['token-file'] as string, '--token-file') : process.env.TVISOR_TOKEN || undefined);
  if (values.socket === undefined && !loopback && !token) {
    throw new UsageError(`listening on ${host} (not loopback) needs --token, --token-file or $TVISOR_TOKEN, so that only your clients can drive the VMs`, 'serve');
  }
  const maxConnections = values['max-connections'] === undefined
    ? DEFAULT_MAX_CONNECTIONS : parseCount(values['max-connections'] as string, '--max-connections', 'serve');
  const requestTimeoutS = values['request-timeout'] === undefined
    ? DEFAULT_REQUEST_TIMEOUT_S : parseSeconds(values['request-timeout'] as string, '--request-timeout', 'serve') / 1000;
  const vmsPerThread = values['vms-per-thread'] === undefined ? 1 : Number(values['vms-per-thread']);
  if (!Number.isInteger(vmsPerThread) || vmsPerThread < 1 || vmsPerThread > 1024) {
    throw new UsageError(`--vms-per-thread must be a whole number from 1 to 1024, got '${values['vms-per-thread']}'`, 'serve');
  }
  const jit = jitModeOf(values.jit, 'serve');
  const allowed = ((values['allow-dir'] as string[] | undefined) ?? [defaultCacheDir()]).map((d) => resolve(d));
  const stateDir = resolve((values['state-dir'] as string | undefined) ?? defaultStateDir());
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (values.token !== undefined) log('tvisor: note: --token shows in ps to every user of this host; --token-file or $TVISOR_TOKEN keep it private');

  let store: VmStore;
  try {
    store = VmStore.open(stateDir);
  } catch (e) {
    if (e instanceof StoreError) {
      // the store's message names the directory and the other daemon; here is how to choose another
      throw new InputError(`${e.message} (--state-dir DIR picks another)`);
    }
    throw e;
  }
  const loaded = store.load();
  for (const p of loaded.problems) log(`tvisor: state: ${p}`);
  // a VM thread (and, once a VM with several vCPUs ran, a hart thread) kept started ahead of need
  const later = (fn: () => void, ms: number) => void setTimeout(fn, ms).unref();
  const vmThreads = new SpareThreads(() => spawnWorker<ToHost, FromHost>('vm-thread', { jit }) satisfies HostWorker, { count: 1, later, eager: true });
  const hartThreads = new SpareThreads(() => spawnWorker<ToVm, FromVm>('hart-thread', { jit }) satisfies VmThread, { count: 1, later });
  const pool = new ThreadPool(() => vmThreads.take(), vmsPerThread, pcpus);
  const manager = new VmManager({
    pcpus, memoryBudgetMib: budget, store,
    spawn: (o) => pool.open(o?.dedicated, o?.avoid),
    spawnHart: () => hartThreads.take(),
    nowNs: () => performance.now() * 1e6, checkKernel: kernelChecker(allowed), allowedDirs: allowed, fileIdentity,
    openSnapshot: (path) => openSnapshotSource(path, allowed),
    connectDaemon,
    rebalanceMs: vmsPerThread > 1 && !values['no-rebalance'] ? REBALANCE_MS : 0,
    releaseDiskLocks: releaseAbandonedLocks,
    defaultCmdline: DEFAULT_CMDLINE, log,
  });
  const requestLog = values.quiet ? undefined : log;
  const server = createApiServer({
    manager, allowedDirs: allowed, token, maxConnections, requestTimeoutS, log, requestLog, images: () => cachedImages(allowed),
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use (another tvisor serve? --listen HOST:PORT picks another)' : e.message;
      reject(new InputError(`cannot listen on ${values.socket ?? listen}: ${why}`));
    });
    if (values.socket !== undefined) {
      removeStaleSocket(values.socket as string).then(() => server.listen(values.socket as string, resolveListen), reject);
    } else server.listen(Number(m![2]), host, resolveListen);
  });
  // stored VMs start again only once this daemon owns its address: one that cannot listen starts nothing
  // (no request is served before this line runs: the await resumed in a microtask of the listen)
  manager.restore(loaded.vms);
  const addr = server.address();
  const where = typeof addr === 'string' ? addr : `http://${addr?.family === 'IPv6' ? `[${addr.address}]` : addr?.address}:${addr?.port}`;
  const packing = vmsPerThread > 1 ? `, up to ${vmsPerThread} VMs per thread${values['no-rebalance'] ? '' : ', rebalanced'}` : '';
  if (typeof addr !== 'string') log(`tvisor: web console at ${where}/${token ? ' (it asks for the token once; or open it with #token=TOKEN after the /)' : ''}`);
  log(`tvisor: serving the API on ${where} (${pcpus} pCPU${pcpus > 1 ? 's' : ''}${packing}, JIT ${jit}, memory budget ${budget} MiB, state in ${stateDir})`);
  await new Promise<void>((done) => {
    const stop = () => {
      log('tvisor: stopping: VMs are stopped and will start again with the daemon');
      manager.shutdown();
      vmThreads.close();
      hartThreads.close();
      server.close();
      server.closeAllConnections?.();
      setTimeout(done, 300);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  store.close();
  return 0;
}
