// The daemon commands docker and virsh users look for: `tvisor logs` (a VM's console output kept by the
// daemon, optionally followed) and `tvisor events` (the lifecycle event stream), over the
// streaming endpoints GET /v1/vms/{id}/logs and GET /v1/events.
import { request, type IncomingMessage } from 'node:http';
import { LOGS_TAIL_MAX, type VmInfo } from '../api/actions.js';
import type { VmEvent } from '../hypervisor/events.js';
import { UsageError } from './args.js';
import { ApiClient, CLIENT_HELP, ClientError } from './client.js';
import { clientArgs, resolveVm, type ClientCommand } from './vms.js';

/**
 * GET `path` as a stream: resolves with the response once its status is 2xx; an error status becomes the
 * API's message as a ClientError. `stop()` aborts the request.
 */
export function openStream(client: ApiClient, path: string): Promise<{ res: IncomingMessage; stop(): void }> {
  const e = client.endpoint;
  return new Promise((done, fail) => {
    const req = request({
      method: 'GET', path, host: e.host, port: e.port, socketPath: e.socketPath,
      headers: e.token ? { authorization: `Bearer ${e.token}` } : {},
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 400) return done({ res, stop: () => req.destroy() });
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let message = `the daemon answered ${status}`;
        let code = 'http';
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string; message?: string } };
          message = body.error?.message ?? message;
          code = body.error?.code ?? code;
        } catch {
          // keep the generic message
        }
        fail(new ClientError(message, code, status));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'nothing is listening there' : err.message;
      fail(new ClientError(`cannot reach the daemon at ${e.label}: ${why} (start it with 'tvisor serve', or give --api)`, 'unreachable'));
    });
    req.end();
  });
}

/**
 * Resolves when the stream ends ('end'), the user or the reader ends it ('signal': Ctrl-C, a closed pipe, or
 * `onData` calling its `enough`), or the connection breaks ('broken').
 */
export function untilEnd(res: IncomingMessage, stop: () => void, onData: (chunk: Buffer, enough: () => void) => void): Promise<'end' | 'signal' | 'broken'> {
  return new Promise((done) => {
    let settled = false;
    const finish = (how: 'end' | 'signal' | 'broken') => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done(how);
    };
    const onSignal = () => {
      finish('signal');
      stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // the reader went away (`tvisor logs VM | head`): as good as Ctrl-C
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') onSignal();
    });
    res.on('data', (chunk: Buffer) => onData(chunk, onSignal));
    res.on('end', () => finish('end'));
    res.on('error', () => finish('broken'));
    res.on('close', () => finish(res.complete ? 'end' : 'broken'));
  });
}

/** Writes to stdout, waiting when the pipe is full (so that `tvisor logs VM | less` holds the stream back). */
export function writeOut(res: IncomingMessage, chunk: Buffer | string): void {
  if (!process.stdout.write(chunk)) {
    res.pause();
    process.stdout.once('drain', () => res.resume());
  }
}

// ---- logs ----

const LOGS_HELP = `Usage: tvisor logs [options] VM

Prints the VM's console output that the daemon keeps: the last 64 KiB since the VM last started (also
after it stopped or crashed; nothing survives a daemon restart). With --follow it then keeps printing
what the guest writes until the VM stops, crashes or is deleted (status 0, or 1 when it crashed), or
until Ctrl-C. The output is the guest's, byte for byte (lines end in CR LF). Output the daemon had to
skip for a slow reader shows as a line "[tvisor: N bytes of output skipped]".

Options:
  -f, --follow           keep printing new output
  -n, --tail N           only the last N lines of the kept output
${CLIENT_HELP}
  -h, --help             show this help

Example: tvisor logs --tail 20 -f web
`;

async function logs(args: string[]): Promise<number> {
  const a = clientArgs('logs', args, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' } }, LOGS_HELP);
  if (!a) return 0;
  if (a.positionals.length !== 1) throw new UsageError(a.positionals.length ? 'name one VM' : "name the VM (by name or id; see 'tvisor ps')", 'logs');
  const query: string[] = [];
  if (a.values.follow) query.push('follow=true');
  if (a.values.tail !== undefined) {
    const text = String(a.values.tail).trim();
    if (!/^\d{1,6}$/.test(text) || Number(text) > LOGS_TAIL_MAX) throw new UsageError(`--tail must be a whole number of lines from 0 to ${LOGS_TAIL_MAX}, got '${a.values.tail}'`, 'logs');
    query.push(`tail=${Number(text)}`);
  }
  const vm = await resolveVm(a.client, a.positionals[0]);
  const { res, stop } = await openStream(a.client, `/v1/vms/${vm.id}/logs${query.length ? `?${query.join('&')}` : ''}`);
  const how = await untilEnd(res, stop, (chunk) => writeOut(res, chunk));
  if (how === 'signal') return 0;
  if (how === 'broken') throw new ClientError('the daemon broke off the output (did it stop?)', 'unreachable');
  if (!a.values.follow) return 0;
  // the stream ended with the VM: say how (it may have been deleted meanwhile)
  const after = await a.client.call<VmInfo>('GET', `/v1/vms/${vm.id}`).catch(() => null);
  if (!after) {
    process.stderr.write(`tvisor: ${vm.name} was deleted\n`);
    return 0;
  }
  if (after.state === 'crashed') {
    process.stderr.write(`tvisor: ${vm.name} crashed: ${after.reason ?? 'no reason given'}\n`);
    return 1;
  }
  if (after.state === 'stopped' || after.state === 'created') process.stderr.write(`tvisor: ${vm.name} is ${after.state}\n`);
  return 0;
}

// ---- events ----

const EVENTS_HELP = `Usage: tvisor events [options]

Prints the daemon's VM lifecycle events as they happen, one a line: time (UTC), VM name and id, event,
and why. Events: created, started, paused, resumed, stopped (with who stopped it: stop requested,
restart requested, the guest powered off, the guest rebooted, the daemon is shutting down), crashed
(with the reason), deleted, rebooted (the guest rebooted and keeps running), migrated (moved to another
thread of the daemon, live: asked for, or to run beside another busy VM). Runs until Ctrl-C, or
until the daemon goes (status 1). Only events from now on are shown: see 'tvisor ps' for the states.

Options:
      --json             print each event as the API's JSON object, one a line
${CLIENT_HELP}
  -h, --help             show this help

Example:
  2026-12-04T15:30:00.123Z  web (0123abcd)  stopped: the guest powered off
`;

/** One event as a line for people. */
export function formatEvent(e: VmEvent): string {
  const paused = e.event === 'started' && e.state === 'paused' ? ' (paused)' : '';
  return `${e.time}  ${e.name} (${e.id})  ${e.event}${paused}${e.reason ? `: ${e.reason}` : ''}`;
}

async function events(args: string[]): Promise<number> {
  const a = clientArgs('events', args, { json: { type: 'boolean' } }, EVENTS_HELP);
  if (!a) return 0;
  if (a.positionals.length > 0) throw new UsageError(`unexpected argument '${a.positionals[0]}'`, 'events');
  const { res, stop } = await openStream(a.client, '/v1/events');
  let partial = '';
  const how = await untilEnd(res, stop, (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    const out: string[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      out.push(a.values.json ? line : formatEvent(JSON.parse(line) as VmEvent));
    }
    if (out.length) writeOut(res, `${out.join('\n')}\n`);
  });
  if (how === 'signal') return 0;
  throw new ClientError('the daemon closed the event stream (did it stop?)', 'unreachable');
}

export const opsCommands: Record<string, ClientCommand> = {
  logs: { summary: 'Print a VM\'s console output kept by the daemon (-f: follow it)', help: LOGS_HELP, run: logs },
  events: { summary: 'Print VM lifecycle events as they happen', help: EVENTS_HELP, run: events },
};
