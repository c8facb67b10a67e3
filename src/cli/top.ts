// `tvisor top`: the daemon's VMs with their resource use, refreshed: CPU and steal as percent of one host
// CPU, guest MIPS, touched memory, disk and network rates — the samples of GET /v1/stats (the daemon computes
// the rates, as for the web console's graphs), one screen each.
import type { StatsSample } from '../hypervisor/stats.js';
import { STATS_INTERVAL_MS } from '../api/actions.js';
import { parseSeconds, parseCount, UsageError } from './args.js';
import { CLIENT_HELP, ClientError } from './client.js';
import { clientArgs, formatBytes, table, type ClientCommand } from './vms.js';
import { openStream, untilEnd, writeOut } from './ops.js';

const HELP = `Usage: tvisor top [options]

Shows every VM of the daemon with what it uses, refreshed every interval: CPU% and STEAL% (percent of one
host CPU: time it ran, and time it wanted to run but waited for a host CPU or its cap), guest MIPS, memory
it has touched, disk read/write and network receive/transmit rates. Sorted by CPU. Quit with Ctrl-C.

Options:
  -d, --interval SECONDS refresh interval, ${STATS_INTERVAL_MS.min / 1000} to ${STATS_INTERVAL_MS.max / 1000} (default 1)
  -n, --iterations N     print N screens and exit (default: until interrupted)
${CLIENT_HELP}
  -h, --help             show this help

When stdout is not a terminal, each screen is printed after the previous one instead of over it.
`;

const rate = (bytes: number) => `${formatBytes(Math.max(0, Math.round(bytes)))}/s`;

/** One screen: the VMs of a sample, busiest first. */
export function topScreen(s: StatsSample, endpoint: string): string {
  const vms = [...s.vms].sort((a, b) => b.cpu_pct - a.cpu_pct || a.name.localeCompare(b.name));
  const lines = vms.map((v) => [
    v.name, v.id, v.state, v.cpu_pct.toFixed(1), v.steal_pct.toFixed(1), v.mips.toFixed(1),
    `${formatBytes(v.memory_touched_bytes)} / ${v.memory_mib} MiB`,
    rate(v.disk_read_bps), rate(v.disk_write_bps), rate(v.net_rx_bps), rate(v.net_tx_bps),
  ]);
  const head = `tvisor top — ${endpoint} — ${vms.length} VM${vms.length === 1 ? '' : 's'}, ${s.host.running} running, ` +
    `${s.host.cpu_pct.toFixed(1)}% CPU — ${new Date(s.time).toLocaleTimeString()}\n\n`;
  return head + table(
    ['NAME', 'ID', 'STATE', 'CPU%', 'STEAL%', 'MIPS', 'MEMORY', 'DISK RD', 'DISK WR', 'NET RX', 'NET TX'],
    lines, new Set([3, 4, 5, 6, 7, 8, 9, 10]),
  );
}

async function top(args: string[]): Promise<number> {
  const a = clientArgs('top', args, { interval: { type: 'string', short: 'd' }, iterations: { type: 'string', short: 'n' } }, HELP);
  if (!a) return 0;
  if (a.positionals.length > 0) throw new UsageError(`unexpected argument '${a.positionals[0]}'`, 'top');
  const intervalMs = a.values.interval === undefined ? 1000 : Math.round(parseSeconds(a.values.interval as string, '--interval', 'top'));
  if (intervalMs < STATS_INTERVAL_MS.min || intervalMs > STATS_INTERVAL_MS.max) {
    throw new UsageError(`--interval must be from ${STATS_INTERVAL_MS.min / 1000} to ${STATS_INTERVAL_MS.max / 1000} seconds, got '${a.values.interval}'`, 'top');
  }
  const iterations = a.values.iterations === undefined ? Infinity : parseCount(a.values.iterations as string, '--iterations', 'top');
  const tty = process.stdout.isTTY === true;
  const { res, stop } = await openStream(a.client, `/v1/stats?interval_ms=${intervalMs}`);
  let partial = '';
  let shown = 0;
  const how = await untilEnd(res, stop, (chunk, enough) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '' || shown >= iterations) continue;
      const screen = topScreen(JSON.parse(line) as StatsSample, a.client.endpoint.label);
      writeOut(res, tty ? `\x1b[H\x1b[2J${screen}` : `${shown > 0 ? '\n' : ''}${screen}`);
      if (++shown >= iterations) enough();
    }
  });
  if (how === 'signal') return 0;
  throw new ClientError('the daemon closed the stats stream (did it stop?)', 'unreachable');
}

export const topCommand: ClientCommand = { summary: 'Live resource use of the daemon\'s VMs', help: HELP, run: top };
