// Tests for the default guest's initramfs layout and init script, and the init script of `image build` disks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readCpio, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './cpio.js';
import { AUTORUN_EXIT_PREFIX, buildInitramfs, diskInitScript, HANDOFF_AUTORUN, initScript, MODULE_LOAD_ORDER_FILE } from './initramfs.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const KVER = '6.12.117+deb13-riscv64';

function build(extra: Partial<Parameters<typeof buildInitramfs>[0]> = {}) {
  const entries = readCpio(
    buildInitramfs({
      busybox: enc.encode('\x7fELF fake busybox'),
      modules: [
        { name: 'failover', data: enc.encode('ko1') },
        { name: 'net_failover', data: enc.encode('ko2') },
        { name: 'virtio_net', data: enc.encode('ko3') },
      ],
      kernelVersion: KVER,
      ...extra,
    }),
  );
  return { entries, get: (name: string) => entries.find((e) => e.name === name) };
}

describe('initramfs', () => {
  it('holds busybox, /init, device nodes and the modules with their load order', () => {
    const { entries, get } = build();
    assert.equal(dec.decode(get('bin/busybox')!.data), '\x7fELF fake busybox');
    assert.equal(get('bin/busybox')!.mode, S_IFREG | 0o755);
    assert.equal(get('bin/sh')!.mode & S_IFMT, S_IFLNK);
    assert.equal(dec.decode(get('bin/sh')!.data), 'busybox');
    assert.equal(get('init')!.mode, S_IFREG | 0o755);
    assert.equal(dec.decode(get('init')!.data), initScript(KVER));
    const console = get('dev/console')!;
    assert.deepEqual([console.mode & S_IFMT, console.rdevMajor, console.rdevMinor], [S_IFCHR, 5, 1]);
    const nul = get('dev/null')!;
    assert.deepEqual([nul.mode & S_IFMT, nul.rdevMajor, nul.rdevMinor], [S_IFCHR, 1, 3]);
    const moddir = `lib/modules/${KVER}`;
    assert.equal(dec.decode(get(`${moddir}/virtio_net.ko`)!.data), 'ko3');
    assert.equal(dec.decode(get(`${moddir}/${MODULE_LOAD_ORDER_FILE}`)!.data), 'failover.ko\nnet_failover.ko\nvirtio_net.ko\n');
    assert.equal(get('autorun.sh'), undefined);
    // Every directory comes before what it contains, and no path repeats.
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = e.name.includes('/') ? e.name.slice(0, e.name.lastIndexOf('/')) : undefined;
      if (parent) assert.ok(seen.has(parent), `${parent} before ${e.name}`);
      assert.ok(!seen.has(e.name), `duplicate ${e.name}`);
      seen.add(e.name);
    }
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'lib', 'lib/modules', moddir]) assert.equal(get(d)!.mode, S_IFDIR | 0o755, d);
  });

  it('adds /autorun.sh and extra files', () => {
    const { get } = build({
      autorun: 'echo hi\n',
      extraFiles: [
        { path: '/etc/motd', data: enc.encode('welcome\n') },
        { path: 'opt/tool', data: enc.encode('x'), mode: 0o755 },
      ],
    });
    assert.equal(dec.decode(get('autorun.sh')!.data), 'echo hi\n');
    assert.equal(get('autorun.sh')!.mode, S_IFREG | 0o755);
    assert.equal(get('etc/motd')!.mode, S_IFREG | 0o644);
    assert.equal(get('opt')!.mode, S_IFDIR | 0o755);
    assert.equal(get('opt/tool')!.mode, S_IFREG | 0o755);
    assert.throws(() => build({ extraFiles: [{ path: 'init', data: enc.encode('') }] }), /duplicate path \/init/);
    assert.throws(() => build({ modules: [{ name: '../x', data: enc.encode('') }] }), /bad module name/);
  });

  it('is reproducible', () => {
    const opts = { busybox: enc.encode('bb'), modules: [], kernelVersion: KVER };
    assert.deepEqual(buildInitramfs(opts), buildInitramfs(opts));
  });

  it('has an init script a POSIX shell accepts, doing what the guest needs', () => {
    const script = initScript(KVER);
    const check = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(script, /^#!\/bin\/sh\n/);
    for (const step of [
      /mount -t proc proc \/proc/,
      /--install -s/,
      /mount -t sysfs sysfs \/sys/,
      /mount -t devtmpfs devtmpfs \/dev/,
      /mkdir -p \/dev\/pts/,
      /mount -t devpts .* \/dev\/pts/,
      new RegExp(`moddir=/lib/modules/${KVER.replace(/[+]/g, '\\+')}`),
      /insmod "\$moddir\/\$module"/,
      /hostname tvisor/,
      /setsid cttyhack sh/,
      /\[ -f \/autorun.sh \] && autorun=\/autorun.sh/,
      new RegExp(`echo "${AUTORUN_EXIT_PREFIX}\\$\\?"`),
      /poweroff -f/,
      // PID 1 becomes busybox init (it handles poweroff, reboot and halt), which runs the script again
      /::once:\/init session\n::shutdown:\/init shutdown\n/,
      /exec \/bin\/busybox init\n/,
      /\[ \$\$ -ne 1 \] && case "\$1" in\n  shutdown\)\n    stop_everything/,
      /kill -TERM -1 .*\n.*\n  kill -KILL -1/,
      /tvisor\.rows=\*\) rows=/,
      /stty rows "\$rows" cols "\$cols"/,
    ]) {
      assert.match(script, step);
    }
    assert.doesNotMatch(script, /TERM=linux/, 'TERM comes from the kernel command line (tvisor run passes the host\'s)');
    // proc is mounted before busybox --install (which needs /proc/self/exe), and modules load after /sys.
    assert.ok(script.indexOf('mount -t proc') < script.indexOf('--install'));
    assert.ok(script.indexOf('mount -t sysfs') < script.indexOf('insmod'));
    assert.ok(script.indexOf('insmod') < script.indexOf('exec /bin/busybox init'));
    // the session and shutdown entries are taken before anything PID 1 does
    assert.ok(script.indexOf('setsid cttyhack') < script.indexOf('mount -t proc'));
    assert.ok(script.indexOf('stop_everything\n    poweroff -f') > 0, 'the session stops everything before the power-off');
  });

  it('switches to the disk named by root= and falls back to its own shell when it cannot', () => {
    const script = initScript(KVER);
    for (const step of [
      /for arg in \$\(cat \/proc\/cmdline\)/,
      /root=\*\) root="\$\{arg#root=\}"/,
      /rootfstype=\*\) rootfstype=/,
      /\[ -n "\$root" \] && wanted="virtio_blk .*ext4"/,
      /LABEL=\*\|UUID=\*\) dev=\$\(findfs "\$root"/,
      /\[ -b "\$dev" \]/,
      /if \[ "\$i" -ge 50 \]/, // 50 × 0.1 s
      /mount -t "\$rootfstype" -o "\$opts" "\$dev" \/newroot/,
      /mount -t ext4 -o "\$opts" "\$dev" \/newroot/,
      /cannot mount the root device .*staying in the initramfs/,
      /\[ ! -x \/newroot\/sbin\/init \]/,
      new RegExp(`cp /autorun.sh ${HANDOFF_AUTORUN}`),
      /for fs in \/run \/sys \/dev \/proc; do/,
      /mount --move "\$fs" "\/newroot\$fs" .*\|\| umount -l "\$fs"/,
      /exec switch_root \/newroot \/sbin\/init/,
    ]) {
      assert.match(script, step);
    }
    // root= is read before the modules load (it adds the block ones); the switch comes after they loaded
    // and before anything of the initramfs session starts; /proc moves last, as the others need it.
    const at = (text: string): number => script.indexOf(text);
    assert.ok(at('for arg in') < at('load_modules virtio_mmio'));
    assert.ok(at('if [ "$TVISOR_MODULES" = all ]') < at('[ -n "$root" ] && switch_to_disk'));
    assert.ok(at('[ -n "$root" ] && switch_to_disk') < at('exec /bin/busybox init'));
    assert.ok(at('umount /tmp') < at('for fs in /run'));
    // Without root= nothing changes: the function is only defined, and the session is the same as before.
    assert.equal(script.match(/switch_to_disk/g)?.length, 2);
  });

  it('has a disk init that reuses what the initramfs mounted and loaded, and leaves the disk clean', () => {
    const script = diskInitScript(KVER);
    const check = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(script, /^#!\/bin\/sh\n/);
    for (const step of [
      /\[ -e \/proc\/self \] \|\| \/bin\/busybox mount -t proc proc \/proc/,
      /--install -s/,
      /mounted \/sys \|\| mount -t sysfs sysfs \/sys/,
      /mounted \/dev \|\| mount -t devtmpfs devtmpfs \/dev/,
      /mounted \/dev\/pts \|\| mount -t devpts/,
      /mounted \/tmp \|\| mount -t tmpfs tmpfs \/tmp/,
      /mount -o remount,rw \//,
      new RegExp(`moddir=/lib/modules/${KVER.replace(/[+]/g, '\\+')}`),
      /\[ -d "\/sys\/module\/\$\{module%\.ko\}" \] && continue/,
      new RegExp(`for f in ${HANDOFF_AUTORUN} /autorun.sh; do`),
      /hostname -F \/etc\/hostname/,
      /setsid cttyhack sh -l/,
      new RegExp(`echo "${AUTORUN_EXIT_PREFIX}\\$\\?"`),
      /mount -o remount,ro \//,
      /poweroff -f/,
      /::once:\/sbin\/init session\n::shutdown:\/sbin\/init shutdown\n/,
      /\[ -f \/etc\/inittab \] \|\| cat > \/etc\/inittab/,
      /exec \/bin\/busybox init\n/,
    ]) {
      assert.match(script, step);
    }
    assert.ok(script.indexOf('mount -t proc') < script.indexOf('--install'));
    assert.ok(script.indexOf('insmod') < script.indexOf('exec /bin/busybox init'));
    assert.ok(script.indexOf('remount,ro') < script.indexOf('poweroff -f'));
    assert.doesNotMatch(script, /switch_root/);
  });
});
