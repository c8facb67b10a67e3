// OpenPGP verification of the archive's Release file (InRelease, or Release + Release.gpg) against the
// host's Debian archive keyring, with the openpgp package (OpenPGP.js, pure JavaScript).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from '../errors.js';

export class SignatureError extends ImageError {
  override name = 'SignatureError';
}

export const KEYRING_DIR = '/usr/share/keyrings';

/**
 * The host's Debian archive keyrings: debian-archive-keyring.gpg (bookworm and older) or .pgp (trixie), and
 * the per-release debian-archive-*.pgp/.gpg files, but not the keyring of removed keys. Other keyrings in
 * the directory (third-party repositories) are not trusted for the Debian archive.
 */
export function hostKeyrings(dir = KEYRING_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^debian-archive-.*\.(gpg|pgp)$/.test(n) && !n.includes('removed'))
    .sort()
    .map((n) => join(dir, n));
}

type OpenPgp = typeof import('openpgp');
let openpgpModule: Promise<OpenPgp> | undefined;
/** Loaded on first use: it is large, and most tvisor commands never need it. */
function openpgp(): Promise<OpenPgp> {
  openpgpModule ??= import('openpgp');
  return openpgpModule;
}

async function readKeyring(path: string): Promise<import('openpgp').Key[]> {
  const pgp = await openpgp();
  const bytes = readFileSync(path);
  try {
    if (bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP')) {
      return await pgp.readKeys({ armoredKeys: bytes.toString('utf8') });
    }
    return await pgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
  } catch (e) {
    throw new SignatureError(`cannot read keyring ${path}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
}

export interface VerifiedRelease {
  /** The signed Release text (for InRelease: the cleartext, as verified). */
  text: string;
  /** Hex key IDs of the valid signatures. */
  signers: string[];
}

async function checkSignatures(
  signatures: { keyID: { toHex(): string }; verified: Promise<true> }[],
  what: string,
): Promise<string[]> {
  const good: string[] = [];
  const problems: string[] = [];
  for (const s of signatures) {
    try {
      await s.verified;
      good.push(s.keyID.toHex());
    } catch (e) {
      problems.push(`${s.keyID.toHex()}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  if (good.length === 0) {
    throw new SignatureError(
      `${what}: no valid signature from a key in the Debian archive keyring${problems.length ? ` (${problems.join('; ')})` : ''}`,
    );
  }
  return good;
}

async function loadKeys(keyrings: string[]): Promise<import('openpgp').Key[]> {
  const keys = (await Promise.all(keyrings.map(readKeyring))).flat();
  if (keys.length === 0) throw new SignatureError(`the keyrings ${keyrings.join(', ')} hold no keys`);
  return keys;
}

/** Verifies an InRelease file (a cleartext-signed Release file) and returns the signed text. */
export async function verifyInRelease(inRelease: string, keyrings: string[], what = 'InRelease'): Promise<VerifiedRelease> {
  const pgp = await openpgp();
  const keys = await loadKeys(keyrings);
  let message;
  try {
    message = await pgp.readCleartextMessage({ cleartextMessage: inRelease });
  } catch (e) {
    throw new SignatureError(`${what} is not a signed message: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const result = await pgp.verify({ message, verificationKeys: keys });
  const signers = await checkSignatures(result.signatures, what);
  return { text: result.data as string, signers };
}

/** Verifies a Release file against its detached signature (Release.gpg). */
export async function verifyDetached(release: Uint8Array, signature: Uint8Array, keyrings: string[], what = 'Release'): Promise<VerifiedRelease> {
  const pgp = await openpgp();
  const keys = await loadKeys(keyrings);
  let sig;
  try {
    const text = new TextDecoder().decode(signature.subarray(0, 64));
    sig = text.includes('-----BEGIN PGP')
      ? await pgp.readSignature({ armoredSignature: new TextDecoder().decode(signature) })
      : await pgp.readSignature({ binarySignature: signature });
  } catch (e) {
    throw new SignatureError(`${what}.gpg is not a signature: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const message = await pgp.createMessage({ binary: release });
  const result = await pgp.verify({ message, signature: sig, verificationKeys: keys });
  const signers = await checkSignatures(result.signatures, what);
  return { text: new TextDecoder().decode(release), signers };
}

/**
 * Extracts the Release text from an InRelease file without checking the signature (used only when the host
 * has no Debian keyring, after a warning). Undoes the cleartext dash-escaping.
 */
export function unverifiedInReleaseText(inRelease: string): string {
  const lines = inRelease.replace(/\r\n/g, '\n').split('\n');
  const start = lines.findIndex((l) => l === '-----BEGIN PGP SIGNED MESSAGE-----');
  if (start < 0) return inRelease;
  let i = start + 1;
  while (i < lines.length && lines[i] !== '') i++; // armor headers ("Hash: SHA256")
  const end = lines.findIndex((l, k) => k > i && l === '-----BEGIN PGP SIGNATURE-----');
  if (end < 0) throw new SignatureError('InRelease: signed message has no signature block');
  return lines
    .slice(i + 1, end)
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n');
}
