// `tvisor top`: the daemon's VMs with their resource use, refreshed: CPU and steal as percent of one host
// CPU, guest MIPS, touched memory, disk and network rates. Rates are differences between two samples.
import type { VmInfo, VmStats } from '../api/actions.js';
import { parseSeconds, parseCount, UsageError } from './args.js';
import { CLIENT_HELP } from './client.js';
import { clientArgs, formatBytes, table, type ClientCommand } from './vms.js';

const HELP = `Usage: tvisor top [options]

Shows every VM of the daemon with what it uses, refreshed every interval: CPU% and STEAL% (percent of one
host CPU: time it ran, and time it wanted to run but waited for a host CPU or its cap), guest MIPS, memory
it has touched, disk read/write and network receive/transmit rates. Sorted by CPU. Quit with Ctrl-C.

Options:
  -d, --interval SECONDS refresh interval (default 1)
  -n, --iterations N     print N screens and exit (default: until interrupted)
${CLIENT_HELP}
  -h, --help             show this help

When stdout is not a terminal, each screen is printed after the previous one instead of over it.
`;

interface Sample {
  atNs: number;
  vms: Map<string, VmInfo>;
}

const rate = (bytes: number) => `${formatBytes(Math.max(0, Math.round(bytes)))}/s`;

/** One screen: the VMs of `cur` with rates from the difference to `prev`. */
export function topScreen(prev: Sample, cur: Sample, endpoint: string): string {
  const dt = (cur.atNs - prev.atNs) / 1e9;
  const d = (v: VmInfo, k: keyof VmStats) => {
    const before = prev.vms.get(v.id)?.stats[k] ?? v.stats[k];
    return Math.max(0, v.stats[k] - before);
  };
  const vms = [...cur.vms.values()];
  const rows = vms.map((v) => ({
    v,
    cpu: (d(v, 'cpu_time_ns') / 1e9 / dt) * 100,
    steal: (d(v, 'steal_time_ns') / 1e9 / dt) * 100,
  }));
  rows.sort((a, b) => b.cpu - a.cpu || a.v.name.localeCompare(b.v.name));
  let cpuSum = 0;
  let running = 0;
  for (const r of rows) {
    cpuSum += r.cpu;
    if (r.v.state === 'running') running++;
  }
  const lines = rows.map(({ v, cpu, steal }) => [
    v.name, v.id, v.state, cpu.toFixed(1), steal.toFixed(1), (d(v, 'instructions') / 1e6 / dt).toFixed(1),
    `${formatBytes(v.stats.memory_touched_bytes)} / ${v.config.memory_mib} MiB`,
    rate(d(v, 'disk_read_bytes') / dt), rate(d(v, 'disk_write_bytes') / dt),
    rate(d(v, 'net_rx_bytes') / dt), rate(d(v, 'net_tx_bytes') / dt),
  ]);
  const head = `tvisor top — ${endpoint} — ${vms.length} VM${vms.length === 1 ? '' : 's'}, ${running} running, ` +
    `${cpuSum.toFixed(1)}% CPU — ${new Date().toLocaleTimeString()}\n\n`;
  return head + table(
    ['NAME', 'ID', 'STATE', 'CPU%', 'STEAL%', 'MIPS', 'MEMORY', 'DISK RD', 'DISK WR', 'NET RX', 'NET TX'],
    lines, new Set([3, 4, 5, 6, 7, 8, 9, 10]),
  );
}

async function top(args: string[]): Promise<number> {
  const a = clientArgs('top', args, { interval: { type: 'string', short: 'd' }, iterations: { type: 'string', short: 'n' } }, HELP);
  if (!a) return 0;
  if (a.positionals.length > 0) throw new UsageError(`unexpected argument '${a.positionals[0]}'`, 'top');
  const intervalMs = a.values.interval === undefined ? 1000 : parseSeconds(a.values.interval as string, '--interval', 'top');
  const iterations = a.values.iterations === undefined ? Infinity : parseCount(a.values.iterations as string, '--iterations', 'top');
  const tty = process.stdout.isTTY === true;
  const sample = async (): Promise<Sample> => {
    const list = await a.client.call<VmInfo[]>('GET', '/v1/vms');
    return { atNs: performance.now() * 1e6, vms: new Map(list.map((v) => [v.id, v])) };
  };
  let stop = false;
  const onSigint = () => (stop = true);
  process.once('SIGINT', onSigint);
  try {
    let prev = await sample();
    for (let i = 0; i < iterations && !stop; i++) {
      await new Promise((r) => setTimeout(r, intervalMs));
      if (stop) break;
      const cur = await sample();
      const screen = topScreen(prev, cur, a.client.endpoint.label);
      process.stdout.write(tty ? `\x1b[H\x1b[2J${screen}` : `${i > 0 ? '\n' : ''}${screen}`);
      prev = cur;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return 0;
}

export const topCommand: ClientCommand = { summary: 'Live resource use of the daemon\'s VMs', help: HELP, run: top };
