// `tvisor run` bad input: every mistake gives one `tvisor: …` line on stderr and status 2, before any guest
// runs. Kernels here are crafted headers (a RISC-V Image header, an arm64 one, random bytes, a host ELF).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, truncateSync } from 'node:fs';
import { diskLockPath } from '../src/host/node/block-file.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cliPath } from './lib/toolchain.js';
import { ensureDefaultGuest } from '../src/images/index.js';
import { DEFAULT_CMDLINE } from '../src/cli/run.js';
import { flashTestImage } from '../src/core/machine/test-images.js';

let dir: string;

/** A 64-byte Linux boot image header (Documentation/arch/riscv/boot-image-header.rst) plus a small body. */
function imageHeader(magic2: string, imageSize: number): Buffer {
  const b = Buffer.alloc(4096);
  b.write('MZ', 0, 'latin1');
  b.writeBigUInt64LE(0x200000n, 8); // text_offset
  b.writeBigUInt64LE(BigInt(imageSize), 16); // image_size
  b.write('RISCV\0\0\0', 48, 'latin1');
  b.write(magic2, 56, 'latin1');
  return b;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tvisor-run-'));
  writeFileSync(join(dir, 'riscv.Image'), imageHeader('RSC\x05', 8192));
  writeFileSync(join(dir, 'arm64.Image'), imageHeader('ARM\x64', 8192));
  writeFileSync(join(dir, 'random.bin'), randomBytes(65536));
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'big.cpio'), '');
  truncateSync(join(dir, 'big.cpio'), 64 * 2 ** 20);
  writeFileSync(join(dir, 'gz'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
  writeFileSync(join(dir, 'size0.Image'), imageHeader('RSC\x05', 0));
  // an EFI-stub Image whose PE section table says it has 12 KiB, cut to 8 KiB
  const pe = imageHeader('RSC\x05', 65536);
  pe.writeUInt32LE(0x40, 0x3c);
  pe.write('PE\0\0', 0x40, 'latin1');
  pe.writeUInt16LE(1, 0x40 + 6); // one section, no optional header
  pe.writeUInt32LE(0x2000, 0x40 + 24 + 16); // SizeOfRawData
  pe.writeUInt32LE(0x1000, 0x40 + 24 + 20); // PointerToRawData
  writeFileSync(join(dir, 'truncated.Image'), Buffer.concat([pe, Buffer.alloc(4096)]));
  spawnSync('mkfifo', [join(dir, 'fifo')]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `tvisor run` with the default guest: waits for the shell's prompt (input sent earlier may be lost), types
 * `input`, and resolves with everything printed once the command ends.
 */
function runShell(args: string[], input: string): Promise<string> {
  const child = spawn(process.execPath, [cliPath, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let typed = false;
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no end within 10 minutes:\n${out}`));
    }, 600_000);
    const onOutput = (b: Buffer) => {
      out += b;
      if (!typed && /\/ # /.test(out)) {
        typed = true;
        child.stdin.write(input);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      if (code === 0) resolve(out);
      else reject(new Error(`tvisor run ${args.join(' ')}: status ${code}\n${out}`));
    });
  });
}

function run(args: string[]) {
  return spawnSync(process.execPath, [cliPath, 'run', ...args], { encoding: 'utf8', input: '', timeout: 60_000 });
}

function assertBadInput(args: string[], pattern: RegExp): void {
  const r = run(args);
  assert.equal(r.status, 2, `status for ${args.join(' ')}: ${r.status}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines[0].startsWith('tvisor: '), r.stderr);
  assert.match(lines[0], pattern);
  assert.ok(lines.length <= 2 && !/\n\s+at /.test(r.stderr), `one line (plus a usage hint), no stack trace:\n${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing reaches the console');
}

test('missing kernel or initrd file', () => {
  assertBadInput(['--kernel', join(dir, 'nope')], /kernel .*nope: no such file/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--initrd', join(dir, 'nope.cpio')], /initrd .*nope\.cpio: no such file/);
  assertBadInput(['--kernel', dir], /not a regular file/);
});

test('a FIFO kernel or initrd is refused by type at once, not waited on', () => {
  assertBadInput(['--kernel', join(dir, 'fifo')], /kernel .*fifo: is a FIFO \(named pipe\), not a regular file/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--initrd', join(dir, 'fifo')], /initrd .*fifo: is a FIFO/);
});

test('an Image whose header says image_size 0, or that is shorter than its PE header says, is refused', () => {
  assertBadInput(['--kernel', join(dir, 'size0.Image')], /image_size is 0/);
  assertBadInput(['--kernel', join(dir, 'truncated.Image')], /is truncated: 8192 bytes, but its PE header says the Image has 12288/);
});

test('corrupt kernels and kernels for other architectures', () => {
  assertBadInput(['--kernel', join(dir, 'random.bin')], /neither a RISC-V Linux Image nor an ELF kernel/);
  assertBadInput(['--kernel', join(dir, 'empty')], /empty/);
  assertBadInput(['--kernel', join(dir, 'arm64.Image')], /arm64 Linux Image, not RISC-V/);
  assertBadInput(['--kernel', '/bin/true'], /x86-64|not RISC-V/);
  assertBadInput(['--kernel', join(dir, 'gz')], /gzip-compressed/);
});

test('an initrd larger than guest memory', () => {
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--initrd', join(dir, 'big.cpio'), '--memory', '32M'], /initrd \(64 MiB\) is larger than guest memory \(32 MiB\)/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--initrd', join(dir, 'big.cpio'), '--memory', '64M'], /do not fit in 64 MiB/);
});

test('unparsable or out-of-range options', () => {
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--memory', 'lots'], /invalid --memory value 'lots'/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--memory', '3G'], /--memory must be/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--cpus', '9'], /--vcpus must be a whole number from 1 to 8/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--cpus', 'two'], /--vcpus must be a whole number/);
  assertBadInput(['--frobnicate'], /unknown option '--frobnicate'/);
  assertBadInput(['--initrd', join(dir, 'big.cpio')], /--initrd needs --kernel/);
  assertBadInput(['--firmware', 'none'], /--firmware none starts the --kernel file in M-mode: give --kernel/);
  assertBadInput(['--firmware', 'none', '--kernel', join(dir, 'empty')], /empty/);
  assertBadInput(['--kernel', join(dir, 'riscv.Image'), '--firmware', join(dir, 'empty')], /firmware file is empty/);
});

test('firmware in flash: bad --flash and --flash-vars options, each refused with what to do', () => {
  writeFileSync(join(dir, 'flash.fd'), flashTestImage());
  assertBadInput(['--flash-vars', join(dir, 'empty')], /--flash-vars is flash bank 1 beside the firmware image in bank 0: give --flash FILE too/);
  assertBadInput(['--flash', join(dir, 'flash.fd')], /firmware in flash without a kernel needs --firmware: OpenSBI's fw_dynamic\.bin .* or none/);
  const fw = ['--firmware', 'none'];
  assertBadInput([...fw, '--flash', join(dir, 'nope.fd')], /flash image .*nope\.fd: no such file/);
  assertBadInput([...fw, '--flash', join(dir, 'fifo')], /flash image .*fifo: is a FIFO/);
  assertBadInput([...fw, '--flash', join(dir, 'big.cpio')], /big\.cpio: 67108864 bytes do not fit a flash bank of 33554432 bytes/);
  assertBadInput([...fw, '--flash', join(dir, 'flash.fd'), '--flash-vars', join(dir, 'big.cpio')], /flash variable store .*big\.cpio: 67108864 bytes do not fit/);
  assertBadInput([...fw, '--flash', join(dir, 'flash.fd'), '--flash-vars', join(dir, 'nope.fd')], /flash variable store .*nope\.fd: no such file/);
  assertBadInput([...fw, '--flash', join(dir, 'flash.fd'), '--initrd', join(dir, 'big.cpio')], /--initrd needs --kernel/);
  assertBadInput([...fw, '--flash', join(dir, 'flash.fd'), '--save', join(dir, 'snap')], /--save does not take a VM with flash yet/);
});

test('firmware in flash runs in place (--firmware none: M-mode at 0x20000000); what it programs in bank 1 is in --flash-vars\'s file', () => {
  writeFileSync(join(dir, 'flash.fd'), flashTestImage());
  const vars = join(dir, 'vars.fd');
  writeFileSync(vars, Buffer.alloc(4096, 0xff)); // shorter than the bank: reads erased past its end
  const r = spawnSync(process.execPath, [cliPath, 'run', '--firmware', 'none', '--flash', join(dir, 'flash.fd'), '--flash-vars', vars], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const bytes = readFileSync(vars);
  assert.deepEqual([...bytes.subarray(0x10, 0x14)], [0x78, 0x56, 0x34, 0x12], 'the program the guest wrote, in the file');
  assert.equal(bytes.subarray(0x14).every((b) => b === 0xff) && bytes.subarray(0, 0x10).every((b) => b === 0xff), true, 'nothing else changed');
  assert.equal(statSync(vars).size, 4096, 'the file did not grow');
});

test('a variable store is written by one VM at a time: a second tvisor run on it is refused, saying who holds it', async () => {
  writeFileSync(join(dir, 'spin.fd'), Buffer.from(Uint32Array.of(0x0000006f).buffer)); // j .
  const vars = join(dir, 'shared-vars.fd');
  writeFileSync(vars, Buffer.alloc(4096, 0xff));
  const first = spawn(process.execPath, [cliPath, 'run', '--firmware', 'none', '--flash', join(dir, 'spin.fd'), '--flash-vars', vars], { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(diskLockPath(vars))) {
      assert.ok(Date.now() < deadline && first.exitCode === null, 'the first VM takes the lock');
      await new Promise((r) => setTimeout(r, 100));
    }
    assertBadInput(['--firmware', 'none', '--flash', join(dir, 'spin.fd'), '--flash-vars', vars], new RegExp(`flash variable store .*shared-vars\\.fd: in use by another tvisor process \\(pid ${first.pid}\\); give each VM a file of its own`));
  } finally {
    first.kill('SIGKILL');
  }
});

test('the default guest: --append adds to its command line, --cmdline replaces it, 256 MiB by default', async () => {
  const guest = await ensureDefaultGuest({ log: (line) => process.stderr.write(`# ${line}\n`) });
  assert.ok(guest.kernel);
  for (const [args, cmdline] of [
    // a fast start (resumed from the guest's saved boot, or making it): the terminal's TERM and size come through
    // the handshake, not the command line; the appended arguments follow
    [['--append', 'tvisor.check=1'], `${DEFAULT_CMDLINE} tvisor.handshake tvisor.check=1`],
    // a cold boot: stdout is no terminal here, so the guest is told TERM=dumb (and no size)
    [['--cold-boot', '--append', 'tvisor.check=1'], `${DEFAULT_CMDLINE} TERM=dumb tvisor.check=1`],
    [['--cmdline', 'console=ttyS0 quiet tvisor.only=1'], 'console=ttyS0 quiet tvisor.only=1'],
  ] as const) {
    const out = await runShell([...args], 'echo "cmdline: $(cat /proc/cmdline)"; echo "mem: $(grep MemTotal /proc/meminfo)"; exit\n');
    assert.match(out, new RegExp(`^cmdline: ${cmdline.replace(/[.]/g, '\\.')}\r?$`, 'm'), out);
    // MemTotal is RAM less what the kernel and initramfs keep (about 188 MiB of 256; 439 of 512)
    const kib = Number(/^mem: MemTotal: +(\d+) kB/m.exec(out)?.[1]);
    assert.ok(kib > 150 * 1024 && kib < 256 * 1024, `MemTotal ${kib} kB`);
  }
});

// A valid Image header with a zeroed body: the first instruction (0x0000) is illegal, the trap goes to stvec 0,
// where there is no memory: the hart faults forever. The VM must end as crashed, not spin.
for (const firmware of [false, true]) {
  test(`a kernel that can make no progress ends the VM as crashed (${firmware ? 'OpenSBI' : 'hypervisor SBI'})`, () => {
    const args = ['--kernel', join(dir, 'riscv.Image'), '--memory', '64M'];
    if (firmware) {
      // M-mode firmware that is all zeroes: the same trap loop one privilege level lower
      writeFileSync(join(dir, 'zero.fw'), Buffer.alloc(4096));
      args.push('--firmware', join(dir, 'zero.fw'));
    }
    const r = run(args);
    assert.equal(r.status, 1, `status ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, /^tvisor: the guest crashed: hart 0 makes no progress: 10000 traps in a row .*cause \d+ at pc 0x[0-9a-f]+/m);
  });
}

test('run --help documents the options', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  for (const opt of ['--kernel', '--initrd', '--append', '--cmdline', '--memory', '--vcpus', '--cpus', '--firmware', 'Ctrl-A']) assert.ok(r.stdout.includes(opt), opt);
});
