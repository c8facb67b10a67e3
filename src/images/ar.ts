// The Unix `ar` archive format as used by Debian packages (.deb): a global "!<arch>\n" header, then members,
// each a 60-byte ASCII header (name, mtime, uid, gid, mode, size, "`\n") followed by the data, padded to an
// even offset. No Node APIs.
import { ImageError } from './errors.js';

export const AR_MAGIC = '!<arch>\n';
export const AR_HEADER_SIZE = 60;

export class ArError extends ImageError {
  override name = 'ArError';
}

export interface ArMember {
  name: string;
  /** Offset of the member's data in the archive. */
  offset: number;
  size: number;
  mode: number;
}

const decoder = new TextDecoder('latin1');

/** True when `bytes` starts with the ar global header. */
export function isAr(bytes: Uint8Array): boolean {
  return bytes.length >= AR_MAGIC.length && decoder.decode(bytes.subarray(0, AR_MAGIC.length)) === AR_MAGIC;
}

/**
 * Parses one member header (60 bytes) found at archive offset `headerOffset`. The returned member's data
 * starts right after the header; the next header is at `nextArMember(member)`.
 */
export function parseArHeader(header: Uint8Array, headerOffset: number): ArMember {
  if (header.length < AR_HEADER_SIZE) throw new ArError(`ar: truncated member header at offset ${headerOffset}`);
  const text = decoder.decode(header.subarray(0, AR_HEADER_SIZE));
  if (text.slice(58, 60) !== '`\n') throw new ArError(`ar: bad member header at offset ${headerOffset}`);
  let name = text.slice(0, 16).trimEnd();
  // GNU ar ends names with "/"; the BSD "#1/N" long-name form does not occur in .deb files.
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  if (name.startsWith('#1/')) throw new ArError(`ar: BSD long member names are not supported ('${name}')`);
  const sizeText = text.slice(48, 58).trim();
  const modeText = text.slice(40, 48).trim();
  if (!/^\d+$/.test(sizeText)) throw new ArError(`ar: bad member size '${sizeText}' at offset ${headerOffset}`);
  return {
    name,
    offset: headerOffset + AR_HEADER_SIZE,
    size: Number(sizeText),
    mode: /^[0-7]+$/.test(modeText) ? Number.parseInt(modeText, 8) : 0,
  };
}

/** Offset of the header that follows `member` (data is padded to an even length). */
export function nextArMember(member: ArMember): number {
  return member.offset + member.size + (member.size & 1);
}

/** Lists the members of an ar archive held in memory. */
export function listAr(bytes: Uint8Array): ArMember[] {
  if (!isAr(bytes)) throw new ArError('ar: not an ar archive (no "!<arch>" header)');
  const members: ArMember[] = [];
  let offset = AR_MAGIC.length;
  while (offset < bytes.length) {
    // A single trailing newline may pad some archives.
    if (bytes.length - offset === 1 && bytes[offset] === 0x0a) break;
    const member = parseArHeader(bytes.subarray(offset, offset + AR_HEADER_SIZE), offset);
    if (member.offset + member.size > bytes.length) throw new ArError(`ar: member '${member.name}' is truncated`);
    members.push(member);
    offset = nextArMember(member);
  }
  return members;
}

/** The data of a member listed by listAr. */
export function arMemberData(bytes: Uint8Array, member: ArMember): Uint8Array {
  return bytes.subarray(member.offset, member.offset + member.size);
}
