// `tvisor snapshot` and `tvisor restore`: saving a daemon's running VM to a file, and bringing it back as a new VM
// (a clone, when the original still exists), through the API (POST /v1/vms/{id}/snapshot, POST /v1/vms with a
// snapshot). `tvisor run --save/--restore` does the same for a VM in the foreground.
import { resolve } from 'node:path';
import type { MigrationInfo, SnapshotInfo, VmInfo } from '../api/actions.js';
import { UsageError } from './args.js';
import { CLIENT_HELP, readTokenFile } from './client.js';
import { clientArgs, formatBytes, parseWhole, resolveVm, type ClientCommand } from './vms.js';

const SNAPSHOT_HELP = `Usage: tvisor snapshot VM FILE [options]

Saves a running or paused VM of the daemon to FILE: the guest is paused while its state, the RAM pages it
ever wrote and copies of its writable overlays (FILE.vda.overlay, …) are written, then runs on (or stays
paused, or stops, as asked). 'tvisor restore FILE' brings it back as a new VM, as often as you like: each
restored VM gets overlays of its own, so they are independent clones. A disk without an overlay is not
copied: a VM that writes to it after the snapshot makes the snapshot unusable (restores are refused).
FILE is written by the daemon, so it must lie under the daemon's --allow-dir directories; an existing FILE
is replaced only if it is a snapshot.

Options:
  --pause                leave the VM paused afterwards
  --stop                 stop the VM afterwards (save and power off, like 'virsh save')
  --compress             compress the RAM in FILE (about 4x smaller; the guest stays paused longer)
${CLIENT_HELP}
  -h, --help             show this help

Example: tvisor snapshot web /srv/vms/web.snap && tvisor restore /srv/vms/web.snap --name web2
`;

async function snapshot(args: string[]): Promise<number> {
  const a = clientArgs('snapshot', args, { pause: { type: 'boolean' }, stop: { type: 'boolean' }, compress: { type: 'boolean' } }, SNAPSHOT_HELP);
  if (!a) return 0;
  const [ref, file, extra] = a.positionals;
  if (ref === undefined || file === undefined) throw new UsageError('give the VM and the file to save it to: tvisor snapshot VM FILE', 'snapshot');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, 'snapshot');
  if (a.values.pause && a.values.stop) throw new UsageError('--pause and --stop exclude each other', 'snapshot');
  const vm = await resolveVm(a.client, ref);
  const body: Record<string, unknown> = { path: resolve(file) };
  if (a.values.pause) body.after = 'paused';
  if (a.values.stop) body.after = 'stopped';
  if (a.values.compress) body.compress = true;
  const r = await a.client.call<SnapshotInfo>('POST', `/v1/vms/${vm.id}/snapshot`, body);
  const disks = r.saved_disks.length ? ` and ${r.saved_disks.length === 1 ? 'its overlay' : `${r.saved_disks.length} overlays`} (${r.saved_disks.join(', ')})` : '';
  process.stdout.write(`${r.vm.name} (${r.vm.id}): saved to ${r.path} (${formatBytes(r.bytes)})${disks} in ${Math.round(r.elapsed_ms)} ms; it is ${r.vm.state}\n`);
  return 0;
}

const RESTORE_HELP = `Usage: tvisor restore FILE [options]

Defines a new VM on the daemon from a snapshot ('tvisor snapshot', or 'tvisor run --save') and starts it:
the guest goes on from where it was saved, without booting. Its machine (memory, vCPUs, images, devices)
is the snapshot's. Each disk saved with an overlay gets a new overlay of its own, copied from the one saved
with the snapshot (by default beside it, as FILE.NAME.vda), so restoring one snapshot under several names
gives independent clones; they keep the saved guest's MAC and IP addresses, as any clone does. Every other
file the machine uses must be unchanged since the snapshot, or the restore is refused. Later starts of the
VM boot it afresh.

Options:
  --name NAME            the new VM's name (default: the saved VM's; needed while that one exists)
  --overlay DISK=PATH    where the new overlay of DISK (vda, vdb, …) goes (repeatable); it must not exist
  --weight N             CPU share under contention, 1-65535 (default: the saved VM's)
  --cap PERCENT          most CPU in percent of one host CPU (default: the saved VM's)
  --no-start             only define it; 'tvisor start' resumes it later
${CLIENT_HELP}
  -h, --help             show this help

Example: tvisor restore /srv/vms/web.snap --name web2 --overlay vda=/srv/vms/web2.overlay
`;

async function restore(args: string[]): Promise<number> {
  const a = clientArgs('restore', args, {
    name: { type: 'string' }, overlay: { type: 'string', multiple: true }, weight: { type: 'string' }, cap: { type: 'string' }, 'no-start': { type: 'boolean' },
  }, RESTORE_HELP);
  if (!a) return 0;
  const [file, extra] = a.positionals;
  if (file === undefined) throw new UsageError('give the snapshot file: tvisor restore FILE', 'restore');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, 'restore');
  const v = a.values;
  const body: Record<string, unknown> = { snapshot: resolve(file) };
  if (v.name !== undefined) body.name = v.name;
  const overlays: Record<string, string> = {};
  for (const text of (v.overlay as string[] | undefined) ?? []) {
    const m = /^(vd[a-z]+)=(.+)$/.exec(text);
    if (!m) throw new UsageError(`--overlay '${text}': expected DISK=PATH, e.g. vda=/srv/vms/clone.overlay`, 'restore');
    if (overlays[m[1]] !== undefined) throw new UsageError(`--overlay ${m[1]} is given twice`, 'restore');
    overlays[m[1]] = resolve(m[2]);
  }
  if (Object.keys(overlays).length) body.overlays = overlays;
  if (v.weight !== undefined) body.weight = parseWhole(v.weight as string, '--weight', 'restore', 1, 65535);
  if (v.cap !== undefined) body.cap = parseWhole(v.cap as string, '--cap', 'restore', 0, 100 * 256);
  const vm = await a.client.call<VmInfo>('POST', '/v1/vms', body);
  const after = v['no-start'] ? vm : await a.client.call<VmInfo>('POST', `/v1/vms/${vm.id}/start`);
  process.stdout.write(`${after.name} (${after.id}): ${after.state === 'created' ? `defined; 'tvisor start ${after.name}' resumes it` : `${after.state}, resumed from ${vm.resumes_from}`}\n`);
  return 0;
}

const MIGRATE_HELP = `Usage: tvisor migrate VM [--to ADDR [--to-token T | --to-token-file PATH]]

Moves a running or paused VM (of one vCPU or several), live: its RAM is copied while the guest runs (every
page, then the pages written meanwhile, round after round), then the guest is stopped for the rest and its
machine's state, and resumes at the destination. Without --to the destination is a VM thread of its own in the same daemon: the
VM stays on the daemon's virtual switch, so its network connections go on. With --to it is another daemon
(http://HOST:PORT), which must reach the VM's files at the same paths under its --allow-dir directories;
the VM is then defined there and no longer here. If anything fails, the VM runs on here. Prints the
rounds, what was copied, and how long the guest stood still.

Options:
  --to ADDR              the other daemon's API address, http://HOST:PORT
  --to-token T           its API token (--to-token-file PATH: read from that file's first line)
${CLIENT_HELP}
  -h, --help             show this help

Example: tvisor migrate web --to http://10.0.0.2:7477
`;

async function migrate(args: string[]): Promise<number> {
  const a = clientArgs('migrate', args, { to: { type: 'string' }, 'to-token': { type: 'string' }, 'to-token-file': { type: 'string' } }, MIGRATE_HELP);
  if (!a) return 0;
  const [ref, extra] = a.positionals;
  if (ref === undefined) throw new UsageError('give the VM to migrate: tvisor migrate VM', 'migrate');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`, 'migrate');
  const v = a.values;
  const body: Record<string, string> = {};
  if (v.to !== undefined) body.to = (v.to as string).replace(/\/+$/, '');
  const token = v['to-token-file'] !== undefined ? readTokenFile(v['to-token-file'] as string, '--to-token-file') : v['to-token'] as string | undefined;
  if (token !== undefined) {
    if (v.to === undefined) throw new UsageError('--to-token is the token of the daemon given by --to', 'migrate');
    body.token = token;
  }
  const vm = await resolveVm(a.client, ref);
  const r = await a.client.call<MigrationInfo>('POST', `/v1/vms/${vm.id}/migrate`, Object.keys(body).length ? body : undefined);
  const where = r.to ? `to ${r.to} (id ${r.vm.id} there)` : 'to a thread of its own';
  process.stdout.write(`${r.vm.name} (${vm.id}): moved ${where} in ${Math.round(r.total_ms)} ms (${r.rounds} rounds, ${formatBytes(r.bytes_sent)} copied), ` +
    `the guest stood still ${Math.round(r.downtime_ms)} ms; it is ${r.vm.state}\n`);
  return 0;
}

export const snapshotCommands: Record<string, ClientCommand> = {
  migrate: { summary: 'Move a running VM live, to a thread of its own or to another daemon', help: MIGRATE_HELP, run: migrate },
  snapshot: { summary: 'Save a running VM of the daemon to a file', help: SNAPSHOT_HELP, run: snapshot },
  restore: { summary: 'Bring a saved VM back as a new VM (a clone)', help: RESTORE_HELP, run: restore },
};
