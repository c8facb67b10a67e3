// `tvisor console VM`: attaches the terminal to a VM's console through the daemon's WebSocket. The guest
// keeps running when the client detaches (Ctrl-] on a terminal, SIGINT/SIGTERM otherwise).
import { UsageError } from './args.js';
import { CLIENT_HELP } from './client.js';
import { clientArgs, resolveVm, type ClientCommand } from './vms.js';
import { cursorQueryFilter } from './console.js';

const CTRL_RIGHT_BRACKET = 0x1d;

const HELP = `Usage: tvisor console [options] VM

Attaches this terminal to the VM's console (its serial port): you first see its recent output, then
everything it prints; what you type goes to the guest. Works in every state, so you can attach before
'tvisor start' and watch the whole boot. Detach with Ctrl-] (the VM keeps running); when stdin is not a
terminal, with Ctrl-C (SIGINT) or SIGTERM. The end of stdin only ends input, so 'tvisor console VM > log'
keeps logging. The command also ends when the VM stops (status 0) or crashes (status 1).

Options:
  --no-replay            skip the recent output, show only what comes next
${CLIENT_HELP}
  -h, --help             show this help
`;

interface StateEvent {
  event?: string;
  state?: string;
  reason?: string;
}

async function consoleCommand(args: string[]): Promise<number> {
  const a = clientArgs('console', args, { 'no-replay': { type: 'boolean' } }, HELP);
  if (!a) return 0;
  if (a.positionals.length !== 1) throw new UsageError(a.positionals.length ? 'name one VM' : "name the VM (by name or id; see 'tvisor ps')", 'console');
  const vm = await resolveVm(a.client, a.positionals[0]);
  const ws = await a.client.console(vm.id);
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  const note = (line: string) => process.stderr.write(tty ? `\r\n${line}\r\n` : `${line}\n`);
  note(`tvisor: connected to ${vm.name} (${vm.id}, ${vm.state})${tty ? '; detach with Ctrl-]' : ''}`);
  if (vm.state !== 'running' && vm.state !== 'paused') note(`tvisor: the VM is ${vm.state}; its output appears when it starts`);

  // no interactive terminal to answer the guest's cursor position queries (ESC [ 6 n): drop them (console.ts)
  const filter = tty && process.stdout.isTTY ? null : cursorQueryFilter();

  // The recent output arrives first, in one burst: skip it when asked, until the socket has been quiet briefly.
  let replaying = a.values['no-replay'] === true;
  let replayTimer = replaying ? setTimeout(() => (replaying = false), 200) : null;

  return new Promise<number>((done) => {
    let status: number | null = null;
    const finish = (code: number) => {
      if (status !== null) return;
      status = code;
      if (replayTimer) clearTimeout(replayTimer);
      stdin.off('data', onInput);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      ws.close(1000);
      done(code);
    };
    const onInput = (chunk: Buffer) => {
      if (tty) {
        const at = chunk.indexOf(CTRL_RIGHT_BRACKET);
        if (at >= 0) {
          if (at > 0) ws.send(chunk.subarray(0, at));
          note('tvisor: detached; the VM keeps running');
          finish(0);
          return;
        }
      }
      ws.send(chunk);
    };
    const onSignal = () => {
      note('tvisor: detached; the VM keeps running');
      finish(0);
    };
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      if (isBinary) {
        if (replaying) {
          if (replayTimer) clearTimeout(replayTimer);
          replayTimer = setTimeout(() => (replaying = false), 200);
          return;
        }
        process.stdout.write(filter ? filter(buf) : buf);
        return;
      }
      let ev: StateEvent;
      try {
        ev = JSON.parse(buf.toString('utf8')) as StateEvent;
      } catch {
        return; // a future kind of message
      }
      if (ev.event !== 'state') return;
      if (ev.state === 'stopped') {
        note(`tvisor: ${vm.name} stopped`);
        finish(0);
      } else if (ev.state === 'crashed') {
        note(`tvisor: ${vm.name} crashed: ${ev.reason ?? 'no reason given'}`);
        finish(1);
      } else if (ev.state === 'paused' || ev.state === 'running') {
        note(`tvisor: ${vm.name} is ${ev.state}`);
      }
    });
    ws.on('close', (code, reason) => {
      if (status === null) note(`tvisor: the daemon closed the console (${code}${reason.length ? `: ${reason.toString()}` : ''})`);
      finish(code === 1000 || code === 1001 ? 0 : 1);
    });
    ws.on('error', (e) => {
      if (status === null) note(`tvisor: console connection failed: ${e.message}`);
      finish(1);
    });
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onInput);
    stdin.on('error', () => {});
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    stdin.resume();
    ws.resume(); // client.console() hands the socket over paused, so that no message comes before the listeners
  });
}

export const consoleClientCommand: ClientCommand = {
  summary: 'Attach to a VM\'s console (detach with Ctrl-])',
  help: HELP,
  run: consoleCommand,
};
