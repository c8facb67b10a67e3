// Keeps README.md's command lines working as written: every example in a ```sh block runs the clone's own
// command (`npx tvisor …`, since npm install puts no `tvisor` on PATH) with a subcommand and options the parser
// takes, and every option a synopsis or an inline `tvisor …` names is in that command's --help.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../../tests/lib/toolchain.js';

const README = readFileSync(join(repoRoot, 'README.md'), 'utf8');

interface Block {
  lang: string;
  lines: string[];
  /** Line number of the opening fence (1-based), for messages. */
  at: number;
}

/** The fenced code blocks, and the prose with them removed. */
function split(markdown: string): { blocks: Block[]; prose: string } {
  const blocks: Block[] = [];
  const prose: string[] = [];
  let open: Block | null = null;
  markdown.split('\n').forEach((line, i) => {
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence && !open) open = { lang: fence[1], lines: [], at: i + 1 };
    else if (fence && open) {
      blocks.push(open);
      open = null;
    } else if (open) open.lines.push(line);
    else prose.push(line);
  });
  return { blocks, prose: prose.join('\n') };
}

/**
 * Splits a shell line into words, as sh does for the simple lines a README holds: quotes group, an unquoted `#`
 * after a blank starts a comment, and `&&`, `||`, `;`, `|` and `&` end a command. Returns the commands.
 */
export function shellCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  let quote = '';
  const end = () => {
    if (word !== null) commands[commands.length - 1].push(word);
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) end();
    else if (c === '#' && word === null) break;
    else if ('&|;'.includes(c)) {
      end();
      if (line[i + 1] === c) i++;
      commands.push([]);
    } else word = (word ?? '') + c;
  }
  end();
  return commands.filter((c) => c.length > 0);
}

const helpCache = new Map<string, string>();

/** `tvisor COMMAND --help`'s text ('' when the command has none). */
function helpOf(command: string): string {
  let text = helpCache.get(command);
  if (text === undefined) {
    const r = spawnSync(process.execPath, [cliPath, command, '--help'], { encoding: 'utf8', timeout: 60_000 });
    text = r.status === 0 ? r.stdout : '';
    helpCache.set(command, text);
  }
  return text;
}

/** The options a command line names (`--memory`, `-f`; not `--` alone), without values. */
function optionsIn(words: string[]): string[] {
  return words.filter((w) => /^--?[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
}

/** Asserts that each option is spelled out in the command's --help. */
function assertDocumented(command: string, options: string[], where: string): void {
  const help = helpOf(command);
  assert.ok(help !== '', `${where}: 'tvisor ${command}' is not a command with --help`);
  for (const option of options) {
    const spelled = new RegExp(`(^|[\\s,\\[])${option.replace(/[-]/g, '\\-')}(?![\\w-])`, 'm');
    assert.match(help, spelled, `${where}: 'tvisor ${command} --help' does not list ${option}`);
  }
}

const { blocks, prose } = split(README);

describe('README.md command lines', () => {
  it('has examples to check', () => {
    assert.ok(blocks.filter((b) => b.lang === 'sh').length >= 3);
  });

  it('every example runs the clone\'s own command (npx tvisor), with a subcommand and options the parser takes', () => {
    let checked = 0;
    for (const block of blocks.filter((b) => b.lang === 'sh')) {
      const text = block.lines.join('\n').replace(/\\\n/g, ' ');
      text.split('\n').forEach((line, i) => {
        const where = `README.md:${block.at + 1 + i}: ${line.trim()}`;
        for (const words of shellCommands(line)) {
          assert.notEqual(words[0], 'tvisor', `${where}: npm install puts no tvisor on PATH; write 'npx tvisor'`);
          if (words[0] !== 'npx' || words[1] !== 'tvisor') continue;
          // --help after the whole line: the parser checks every option and its value's presence, then stops
          const args = words.slice(2);
          const r = spawnSync(process.execPath, [cliPath, ...args, '--help'], { encoding: 'utf8', timeout: 60_000 });
          assert.equal(r.status, 0, `${where}: the parser refuses it:\n${r.stderr}`);
          assert.match(r.stdout, /^Usage: tvisor /, where);
          checked++;
        }
      });
    }
    assert.ok(checked >= 8, `only ${checked} examples found`);
  });

  it('every option a synopsis names is in that command\'s --help', () => {
    for (const block of blocks.filter((b) => b.lang === 'text')) {
      let command = '';
      block.lines.forEach((line, i) => {
        const where = `README.md:${block.at + 1 + i}`;
        const words = shellCommands(line.replace(/[[\]]/g, ' ').replace(/ \| /g, ' '))[0] ?? [];
        if (words[0] === 'tvisor') {
          const names = (words[1] ?? '').split('|');
          command = names[0];
          if (/^[A-Z]+$/.test(command) || command.startsWith('-')) return; // `tvisor COMMAND --help`, `tvisor --version`
          for (const name of names) assert.ok(helpOf(name) !== '', `${where}: no command '${name}'`);
        } else if (!/^\s/.test(line) || command === '') return;
        // `tvisor help [COMMAND] tvisor COMMAND --help tvisor --version` lists several forms on one line
        const own = words.slice(0, words.indexOf('tvisor', 1) === -1 ? undefined : words.indexOf('tvisor', 1));
        assertDocumented(command, optionsIn(own), where);
      });
    }
  });

  it('every `tvisor COMMAND …` in the prose names a command and options it has', () => {
    let checked = 0;
    for (const m of prose.matchAll(/`tvisor ([a-z][^`]*)`/g)) {
      const words = shellCommands(m[1]);
      const [command, ...rest] = words[0];
      assertDocumented(command, optionsIn(rest), `README.md: \`tvisor ${m[1]}\``);
      checked++;
    }
    assert.ok(checked >= 5, `only ${checked} found`);
  });

  it('npx tvisor resolves to the clone\'s own command, from a directory below the clone too', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
    assert.equal(pkg.name, 'tvisor');
    assert.equal(join(repoRoot, pkg.bin.tvisor), cliPath);
    // The first npx in a clone links the project into npm's npx cache and would run its prepare script (a full
    // build, under the feet of the other tests): scripts are off here, dist/ is already built.
    const env = { ...process.env, npm_config_ignore_scripts: 'true', npm_config_update_notifier: 'false' };
    const r = spawnSync('npx', ['--no-install', 'tvisor', '--version'], { cwd: join(repoRoot, 'src'), env, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `npx --no-install tvisor --version: ${r.error ?? r.stderr}`);
    assert.match(r.stdout, /^tvisor \d+\.\d+\.\d+/);
  });
});

describe('the README checker itself', () => {
  it('splits shell lines into commands and words', () => {
    assert.deepEqual(shellCommands('npm install && npx tvisor run'), [['npm', 'install'], ['npx', 'tvisor', 'run']]);
    assert.deepEqual(shellCommands('npx tvisor run --append "a=1 b" # comment'), [['npx', 'tvisor', 'run', '--append', 'a=1 b']]);
    assert.deepEqual(shellCommands("x '' y; z | w &"), [['x', '', 'y'], ['z'], ['w']]);
    assert.deepEqual(shellCommands('a#b'), [['a#b']]);
  });

  it('catches a bare tvisor, an unknown option and an undocumented one', () => {
    assert.throws(() => assertDocumented('run', ['--frobnicate'], 'x'), /does not list --frobnicate/);
    assert.throws(() => assertDocumented('frobnicate', [], 'x'), /is not a command/);
    assert.doesNotThrow(() => assertDocumented('run', ['--vcpus', '--append', '--cmdline'], 'x'));
    const r = spawnSync(process.execPath, [cliPath, 'run', '--apend', 'x', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 2, 'a mistyped option fails even with --help');
  });
});
