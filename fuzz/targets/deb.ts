// Fuzz target: a Debian package read from memory as the image builder reads one (ar members, gzip/xz/none
// compression, tar): the control file and selected data files. Anything wrong ends in an ImageError (DebError,
// or DecompressError for corrupt compressed data).
import { extractDebFiles, readDebControl } from '../../src/images/deb.js';
import { ImageError } from '../../src/images/errors.js';
import { expectOnly } from '../lib/bytes.js';

export async function fuzz(data: Uint8Array): Promise<void> {
  try {
    await readDebControl({ size: data.length, read: async (o, n) => data.subarray(o, Math.min(data.length, o + n)), stream: async function* (o, n) { yield data.subarray(o, o + n); } });
  } catch (e) {
    expectOnly(e, ImageError);
  }
  try {
    await extractDebFiles(data, ['usr/bin/hello', 'etc/passwd']);
  } catch (e) {
    expectOnly(e, ImageError);
  }
}
