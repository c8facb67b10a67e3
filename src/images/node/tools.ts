// Host tools the image builders run (e2fsprogs, debootstrap), and writing an image file so that it appears only
// once complete and never replaces one unasked.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, link, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ImageError } from '../errors.js';

// ---------------------------------------------------------------------------------------------------------
// e2fsprogs

export function defaultToolDirs(): string[] {
  const path = (process.env.PATH ?? '').split(':').filter((d) => d !== '');
  return [...new Set([...path, '/usr/sbin', '/sbin'])];
}

export async function findTool(name: string, dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function run(cmd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = (error as NodeJS.ErrnoException | null)?.code;
      const status = error ? (typeof code === 'number' ? code : 127) : 0;
      done({ status, stdout, stderr: error && !stderr ? error.message : stderr });
    });
  });
}

export function firstLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

/** Refuses an output path that is a directory, exists (unless `force`), or lies in a missing directory. */
export async function checkOutput(output: string, force: boolean): Promise<void> {
  const existing = await stat(output).catch(() => undefined);
  if (existing?.isDirectory()) throw new ImageError(`${output} is a directory; pass --output FILE`);
  if (existing && !force) throw new ImageError(`${output} already exists; pass --force to replace it`);
  if (!(await stat(dirname(output)).catch(() => undefined))?.isDirectory()) {
    throw new ImageError(`cannot write ${output}: the directory ${dirname(output)} does not exist`);
  }
}

/** Moves the finished `temp` to `output`; without `force`, never over a file that appeared meanwhile. */
export async function publishOutput(temp: string, output: string, force: boolean): Promise<void> {
  if (force) {
    await rename(temp, output);
    return;
  }
  // link() fails if the output appeared while we worked, where rename() would replace it; on a file
  // system without hard links, check and rename.
  const linked = await link(temp, output).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') throw new ImageError(`${output} already exists; pass --force to replace it`);
    return false;
  });
  if (!linked) {
    if (await stat(output).catch(() => undefined)) throw new ImageError(`${output} already exists; pass --force to replace it`);
    await rename(temp, output);
  }
}
