#!/usr/bin/env node
// The `tvisor` command: dispatches subcommands and maps every failure to one stderr line and an exit status
// (1 when the daemon refuses or cannot be reached, 2 for bad input or usage, 70 for an internal error), never a stack trace unless TVISOR_DEBUG is set.
import { SERVE_HELP, SERVE_SUMMARY, serveCommand } from './serve.js';
import { DEMO_HELP, DEMO_SUMMARY, demoCommand } from './demo.js';
import { readFileSync } from 'node:fs';
import { didYouMean, InputError, parseCommandLine, UsageError } from './args.js';
import { BARE_HELP, BARE_SUMMARY, bareCommand } from './bare.js';
import { IMAGE_HELP, IMAGE_SUMMARY, imageCommand } from './image.js';
import { RUN_HELP, RUN_SUMMARY, makeRunCommand, resolveDefaultGuest } from './run.js';
import { vmCommands } from './vms.js';
import { snapshotCommands } from './snapshots.js';
import { consoleClientCommand } from './attach.js';
import { topCommand } from './top.js';
import { opsCommands } from './ops.js';
import { ClientError } from './client.js';
import { tuneWasmTiering } from '../host/node/wasm-tiering.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERNAL = 70; // EX_SOFTWARE from sysexits.h

interface Command {
  summary: string;
  help: string;
  run(args: string[]): Promise<number>;
}

/** The subcommands, in the order `tvisor --help` lists them: one entry each (a new command adds a line). */
const COMMANDS: Record<string, Command> = {
  run: { summary: RUN_SUMMARY, help: RUN_HELP, run: makeRunCommand(resolveDefaultGuest) },
  bare: { summary: BARE_SUMMARY, help: BARE_HELP, run: bareCommand },
  image: { summary: IMAGE_SUMMARY, help: IMAGE_HELP, run: imageCommand },
  serve: { summary: SERVE_SUMMARY, help: SERVE_HELP, run: serveCommand },
  demo: { summary: DEMO_SUMMARY, help: DEMO_HELP, run: demoCommand },
  ...vmCommands(resolveDefaultGuest),
  ...snapshotCommands,
  console: consoleClientCommand,
  top: topCommand,
  ...opsCommands,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 'help'.length) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `Usage: tvisor <command> [options]

tvisor is a hypervisor written in TypeScript that runs 64-bit RISC-V guests.

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}Show help for a command: tvisor help <command>

Options:
  -h, --help     show this help
  -V, --version  print the version

Run 'tvisor <command> --help' for a command's options.
`;
}

function version(): string {
  try {
    // dist/src/cli/main.js → the package root, both in the repository and when installed.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the command line (without `node main.js`) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const first = argv[0];
    if (first === undefined) {
      process.stderr.write(usage());
      return EXIT_USAGE;
    }
    if (!first.startsWith('-') || first === '-') {
      if (first === 'help') return help(argv.slice(1));
      const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
      if (!command) throw new UsageError(`unknown command '${first}'${didYouMean(first, [...Object.keys(COMMANDS), 'help'])}`, '');
      return await command.run(argv.slice(1));
    }
    const { values, positionals } = parseCommandLine(
      argv,
      { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
      '',
    );
    if (positionals.length > 0) throw new UsageError(`options must follow the command: '${positionals[0]}'`, '');
    if (values.version) {
      process.stdout.write(`tvisor ${version()}\n`);
      return 0;
    }
    process.stdout.write(usage());
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

const HELP_HELP = `Usage: tvisor help [COMMAND [SUBCOMMAND]]

Shows the help of a command (the same as 'tvisor COMMAND --help'), or without one the list of commands.
`;

/**
 * `tvisor help`, `tvisor help COMMAND` (further words, as in `help image pull`, name a part of that command,
 * whose help covers them), `tvisor help --help` and `tvisor help help`.
 */
function help(args: string[]): number {
  const [first] = args;
  if (first === undefined || first === '-h' || first === '--help') {
    process.stdout.write(first === undefined ? usage() : HELP_HELP);
    return 0;
  }
  if (first === 'help') {
    process.stdout.write(HELP_HELP);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) throw new UsageError(`no help for '${args.join(' ')}': no such command${didYouMean(first, Object.keys(COMMANDS))}`, '');
  process.stdout.write(command.help);
  return 0;
}

function oneLine(text: string): string {
  return text.split('\n')[0];
}

function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    const helpCommand = e.command ? `tvisor ${e.command} --help` : 'tvisor --help';
    process.stderr.write(`tvisor: ${oneLine(e.message)}\nRun '${helpCommand}' for usage.\n`);
    return EXIT_USAGE;
  }
  if (e instanceof ClientError) {
    process.stderr.write(`tvisor: ${oneLine(e.message)}\n`);
    return EXIT_FAILED;
  }
  if (e instanceof InputError) {
    process.stderr.write(`tvisor: ${oneLine(e.message)}\n`);
    return EXIT_USAGE;
  }
  return internalError(e);
}

function internalError(e: unknown): number {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  process.stderr.write(
    `tvisor: internal error: ${oneLine(message)}\n` +
      `This is a bug in tvisor; please report it with the program and command line ` +
      `(run with TVISOR_DEBUG=1 for a stack trace).\n`,
  );
  if (process.env.TVISOR_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT_INTERNAL;
}

/** Sets the status and exits once stdout has drained (a pipe may still hold guest output). */
function finish(status: number): void {
  process.exitCode = status;
  process.stdout.write('', () => process.exit(status));
}

process.on('uncaughtException', (e) => finish(internalError(e)));
process.on('unhandledRejection', (e) => finish(internalError(e)));
tuneWasmTiering();
main(process.argv.slice(2)).then(finish, (e) => finish(internalError(e)));
