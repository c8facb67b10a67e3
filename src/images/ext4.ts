// A read-only reader of ext2, ext3 and ext4 file systems: enough to do a bootloader's work, finding the kernel
// and initrd in a root disk's /boot and reading them. No Node APIs and no module state, so it runs in a
// browser too; it reads through a ByteSource callback, so any block backend (raw file, copy-on-write
// overlay, HTTP ranges) can serve it.
//
// The layout is the one in the kernel's "ext4 Data Structures and Algorithms": the superblock at byte 1024,
// group descriptors in the block after it, inode tables found through them, file data mapped by an extent
// tree (ext4) or by direct and indirect block maps (ext2/3), directories as chains of variable-length
// entries. Every number read from the image is treated as hostile: offsets are checked against the image,
// tree walks are bounded and allocations capped, so a damaged image fails with an Ext4Error and never hangs.
import { ImageError } from './errors.js';

export class Ext4Error extends ImageError {
  override name = 'Ext4Error';
}

/** The bytes of a file system image. `read` may return fewer bytes than asked only past the end. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface Ext4Stat {
  inode: number;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** The full i_mode: file type and permission bits. */
  mode: number;
  size: number;
}

/** The fields of an inode (struct ext4_inode) this reader uses. */
interface Inode {
  ino: number;
  mode: number;
  size: number;
  flags: number;
  /** i_blocks_lo: 512-byte sectors held, including an extended-attribute block. */
  sectors: number;
  fileAcl: number;
  /** i_block: 60 bytes of block map, extent tree root, fast symlink target or inline data. */
  iblock: Uint8Array;
}

interface RawDirent { name: string; ino: number; fileType: number }

/** Called for each run of `count` mapped blocks, logical block `logical` at physical block `physical`. */
type RunVisitor = (logical: number, physical: number, count: number) => void;

const SUPERBLOCK_OFFSET = 1024;
const EXT4_MAGIC = 0xef53;
const ROOT_INO = 2;
/** Linux's limit on symbolic links followed while resolving one path (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;
/** The kernel never builds extent trees deeper than this (EXT4_MAX_EXTENT_DEPTH). */
const MAX_EXTENT_DEPTH = 5;
const EXTENT_MAGIC = 0xf30a;
/** An extent whose ee_len exceeds this is uninitialized (preallocated): its blocks read as zeros. */
const EXTENT_INIT_MAX = 32768;
const I_BLOCK_SIZE = 60;
/** A directory claiming more bytes (millions of entries) is taken for corruption rather than read. */
const MAX_DIR_BYTES = 128 << 20;
const DEFAULT_MAX_FILE = 1 << 30;
/** Large extents are read in pieces so that a source never holds a whole big file twice. */
const READ_CHUNK = 8 << 20;

// s_feature_incompat bits.
const INCOMPAT_COMPRESSION = 0x1;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_64BIT = 0x80;
/** Features that change nothing a reader of files needs (or that are handled per inode, like encryption):
 * filetype, recover, extents, 64bit, mmp, flex_bg, ea_inode, csum_seed, largedir, inline_data, encrypt,
 * casefold (names are still stored as written, so exact-case lookups work). */
const INCOMPAT_READABLE = 0x2 | 0x4 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000;

// i_flags bits.
const ENCRYPT_FL = 0x800;
const EXTENTS_FL = 0x80000;
const INLINE_DATA_FL = 0x10000000;

// Directory entry file_type codes (1 file, 2 directory, 7 symlink; 3-6 are
// devices, FIFOs and sockets; 0 means unknown, so the inode is asked).
const DIRENT_TYPES: readonly (Ext4Stat['type'] | undefined)[] = [undefined, 'file', 'directory', 'other', 'other', 'other', 'other', 'symlink'];

const decoder = new TextDecoder();

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** The type in i_mode's S_IFMT bits: 0x8000 regular file, 0x4000 directory, 0xA000 symbolic link. */
function typeOf(mode: number): Ext4Stat['type'] {
  const format = mode & 0xf000;
  return format === 0x8000 ? 'file' : format === 0x4000 ? 'directory' : format === 0xa000 ? 'symlink' : 'other';
}

/** Refuses file systems whose incompatible features change the layout this reader assumes. */
function checkIncompat(incompat: number): void {
  if (incompat & INCOMPAT_COMPRESSION) throw new Ext4Error('ext2 compression (INCOMPAT_COMPRESSION) is not supported');
  if (incompat & INCOMPAT_META_BG) throw new Ext4Error('the meta_bg group descriptor layout (INCOMPAT_META_BG) is not supported');
  if (incompat & INCOMPAT_JOURNAL_DEV) throw new Ext4Error('this is an external ext3/4 journal device, not a file system');
  const unknown = (incompat & ~INCOMPAT_READABLE) >>> 0;
  if (unknown) throw new Ext4Error(`unsupported incompatible ext4 features 0x${unknown.toString(16)} (s_feature_incompat)`);
}

export class Ext4Reader {
  readonly uuid: string;
  readonly label: string;
  readonly blockSize: number;
  readonly needsRecovery: boolean;
  private readonly filetype: boolean;
  private readonly blocksCount: number;
  private readonly inodesCount: number;
  private readonly inodesPerGroup: number;
  private readonly inodeSize: number;
  private readonly descSize: number;
  private readonly gdtOffset: number;
  /** Inode table block of each group whose descriptor has been read. */
  private readonly inodeTables = new Map<number, number>();

  /** Reads and checks the superblock; throws Ext4Error if `source` is not a file system this reader can read. */
  static open(source: ByteSource): Ext4Reader {
    if (!Number.isSafeInteger(source.size) || source.size < SUPERBLOCK_OFFSET + 1024) {
      throw new Ext4Error('not an ext2/3/4 file system (the image is too small to hold a superblock)');
    }
    const sb = source.read(SUPERBLOCK_OFFSET, 1024);
    if (sb.length < 1024 || u16(sb, 0x38) !== EXT4_MAGIC) throw new Ext4Error('not an ext2/3/4 file system (no superblock magic)');
    return new Ext4Reader(source, sb);
  }

  private constructor(private readonly source: ByteSource, sb: Uint8Array) {
    const incompat = u32(sb, 0x60);
    checkIncompat(incompat);
    this.needsRecovery = (incompat & INCOMPAT_RECOVER) !== 0;
    this.filetype = (incompat & INCOMPAT_FILETYPE) !== 0;
    const logBlockSize = u32(sb, 0x18);
    if (logBlockSize > 6) throw new Ext4Error(`unsupported ext4 block size 2^${10 + logBlockSize} (the limit is 64 KiB)`);
    const bs = (this.blockSize = 1024 << logBlockSize);
    const is64 = (incompat & INCOMPAT_64BIT) !== 0;
    // s_blocks_count_hi only counts with INCOMPAT_64BIT; block numbers then have 48 bits.
    this.blocksCount = u32(sb, 0x04) + (is64 ? u16(sb, 0x150) * 2 ** 32 : 0);
    this.inodesCount = u32(sb, 0x00);
    this.inodesPerGroup = u32(sb, 0x28);
    const firstDataBlock = u32(sb, 0x14);
    const blocksPerGroup = u32(sb, 0x20);
    const rev = u32(sb, 0x4c);
    if (rev > 1) throw new Ext4Error(`unsupported ext2/3/4 revision ${rev}`);
    // Revision 0 file systems have fixed 128-byte inodes; later ones say (a power of two, at most a block).
    this.inodeSize = rev === 0 ? 128 : u16(sb, 0x58);
    if (!isPow2(this.inodeSize) || this.inodeSize < 128 || this.inodeSize > bs) throw new Ext4Error(`bad ext4 inode size ${this.inodeSize}`);
    // Group descriptors are 32 bytes, or s_desc_size (a power of two from 64 to 1024) with INCOMPAT_64BIT.
    this.descSize = is64 ? u16(sb, 0xfe) : 32;
    if (!isPow2(this.descSize) || this.descSize < (is64 ? 64 : 32) || this.descSize > 1024) throw new Ext4Error(`bad ext4 group descriptor size ${this.descSize}`);
    // A group's block and inode bitmaps are one block each, which bounds the group sizes.
    if (blocksPerGroup < 1 || blocksPerGroup > 8 * bs) throw new Ext4Error(`bad ext4 blocks per group ${blocksPerGroup}`);
    if (this.inodesPerGroup < 1 || this.inodesPerGroup > 8 * bs) throw new Ext4Error(`bad ext4 inodes per group ${this.inodesPerGroup}`);
    if (firstDataBlock >= this.blocksCount) throw new Ext4Error(`bad ext4 block count ${this.blocksCount}`);
    if (this.blocksCount * bs > this.source.size) {
      throw new Ext4Error(`the ext4 file system is truncated: it has ${this.blocksCount} ${bs}-byte blocks but the image holds only ${this.source.size} bytes`);
    }
    const groups = Math.ceil((this.blocksCount - firstDataBlock) / blocksPerGroup);
    if (this.inodesCount < ROOT_INO || this.inodesCount > groups * this.inodesPerGroup) throw new Ext4Error(`bad ext4 inode count ${this.inodesCount}`);
    // The group descriptor table starts in the block after the superblock's (block 1 with 4K blocks, 2 with 1K).
    this.gdtOffset = (firstDataBlock + 1) * bs;
    this.uuid = Array.from(sb.subarray(0x68, 0x78), (b) => b.toString(16).padStart(2, '0'))
      .join('').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    const name = sb.subarray(0x78, 0x88);
    const nul = name.indexOf(0);
    this.label = decoder.decode(nul < 0 ? name : name.subarray(0, nul));
  }

  /** Follows symbolic links; undefined if the path does not exist. */
  stat(path: string): Ext4Stat | undefined {
    const node = this.resolve(path, true);
    return node && statOf(node);
  }

  /** Like stat, but a symbolic link as the last component is described rather than followed. */
  lstat(path: string): Ext4Stat | undefined {
    const node = this.resolve(path, false);
    return node && statOf(node);
  }

  /** The entries of a directory, without "." and "..", in on-disk order. */
  readdir(path: string): { name: string; type: Ext4Stat['type']; inode: number }[] {
    const dir = this.resolve(path, true);
    if (!dir) throw new Ext4Error(`${path}: no such directory in the ext4 file system`);
    if (typeOf(dir.mode) !== 'directory') throw new Ext4Error(`${path}: not a directory`);
    return this.dirEntries(dir, path)
      .filter((e) => e.name !== '.' && e.name !== '..')
      .map((e) => ({ name: e.name, inode: e.ino, type: DIRENT_TYPES[e.fileType] ?? typeOf(this.inode(e.ino).mode) }));
  }

  /** The contents of a regular file (following symbolic links), refused if larger than `maxBytes`. */
  readFile(path: string, maxBytes = DEFAULT_MAX_FILE): Uint8Array {
    const node = this.resolve(path, true);
    if (!node) throw new Ext4Error(`${path}: no such file in the ext4 file system`);
    const type = typeOf(node.mode);
    if (type !== 'file') throw new Ext4Error(`${path}: ${type === 'directory' ? 'is a directory' : 'not a regular file'}`);
    return this.readData(node, maxBytes, path);
  }

  /** The target of a symbolic link (the last component is not followed). */
  readlink(path: string): string {
    const node = this.resolve(path, false);
    if (!node) throw new Ext4Error(`${path}: no such file in the ext4 file system`);
    if (typeOf(node.mode) !== 'symlink') throw new Ext4Error(`${path}: not a symbolic link`);
    return this.linkTarget(node, path);
  }

  /**
   * Walks `path` from the root as the kernel would: "." stays, ".." is looked up (every directory has it),
   * a symbolic link met on the way restarts from the root (absolute target) or from the directory holding
   * it (relative target), and more than 40 links are taken for a loop. Undefined if a component is missing.
   */
  private resolve(path: string, followLast: boolean): Inode | undefined {
    const rest = path.split('/').reverse(); // a stack: pop() gives the next component
    // Each directory is read once per call, however often symlinks and ".." bring the walk back to it.
    const listings = new Map<number, Map<string, number>>();
    let node = this.inode(ROOT_INO);
    let links = 0;
    while (rest.length > 0) {
      const name = rest.pop() as string;
      const isDir = typeOf(node.mode) === 'directory';
      // "" (from "//" or a trailing "/") and "." stay put, but only in a directory: "/file/" does not exist.
      if (name === '' || name === '.') {
        if (!isDir && node.ino !== ROOT_INO) return undefined;
        continue;
      }
      if (!isDir) return undefined;
      let listing = listings.get(node.ino);
      if (!listing) listings.set(node.ino, (listing = new Map(this.dirEntries(node, path).map((e) => [e.name, e.ino]))));
      const ino = listing.get(name);
      if (ino === undefined) return undefined;
      const child = this.inode(ino);
      // A trailing slash leaves an empty component, so "link/" follows the link even for lstat, as in POSIX.
      if (typeOf(child.mode) === 'symlink' && (followLast || rest.length > 0)) {
        if (++links > MAX_SYMLINKS) throw new Ext4Error(`${path}: too many levels of symbolic links`);
        const target = this.linkTarget(child, path);
        if (target === '') return undefined;
        rest.push(...target.split('/').reverse());
        if (target.startsWith('/')) node = this.inode(ROOT_INO);
        continue;
      }
      node = child;
    }
    return node;
  }

  /** Reads `length` bytes at `offset`, refusing any range outside the image. */
  private bytes(offset: number, length: number, what: string): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.source.size) {
      throw new Ext4Error(`${what}: bytes ${offset}..${offset + length} lie outside the ${this.source.size}-byte image`);
    }
    const data = this.source.read(offset, length);
    if (data.length < length) throw new Ext4Error(`${what}: short read of ${length} bytes at ${offset}`);
    return data.length === length ? data : data.subarray(0, length);
  }

  /** Reads `count` blocks from `block`, which must lie inside the file system. */
  private blocks(block: number, count: number, what: string): Uint8Array {
    if (block < 1 || block + count > this.blocksCount) throw new Ext4Error(`${what}: block ${block} is outside the file system`);
    return this.bytes(block * this.blockSize, count * this.blockSize, what);
  }

  /** The inode table of a group, from its descriptor: bg_inode_table_lo at 0x8, _hi at 0x28 in 64-byte ones. */
  private inodeTable(group: number): number {
    const known = this.inodeTables.get(group);
    if (known !== undefined) return known;
    const desc = this.bytes(this.gdtOffset + group * this.descSize, this.descSize, `group descriptor ${group}`);
    const table = u32(desc, 0x8) + (this.descSize >= 64 ? u32(desc, 0x28) * 2 ** 32 : 0);
    const tableBlocks = Math.ceil((this.inodesPerGroup * this.inodeSize) / this.blockSize);
    if (table < 1 || table + tableBlocks > this.blocksCount) throw new Ext4Error(`group ${group}: inode table at block ${table} is outside the file system`);
    this.inodeTables.set(group, table);
    return table;
  }

  /** Inode `ino` (numbered from 1): entry (ino-1) % s_inodes_per_group of group (ino-1) / s_inodes_per_group. */
  private inode(ino: number): Inode {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.inodesCount) throw new Ext4Error(`inode number ${ino} is outside 1..${this.inodesCount}`);
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const offset = this.inodeTable(group) * this.blockSize + ((ino - 1) % this.inodesPerGroup) * this.inodeSize;
    const raw = this.bytes(offset, 128, `inode ${ino}`);
    const sizeHigh = u32(raw, 0x6c);
    if (sizeHigh >= 2 ** 21) throw new Ext4Error(`inode ${ino}: impossible size (i_size_high 0x${sizeHigh.toString(16)})`);
    return {
      ino, mode: u16(raw, 0x0), size: u32(raw, 0x4) + sizeHigh * 2 ** 32, flags: u32(raw, 0x20),
      sectors: u32(raw, 0x1c), fileAcl: u32(raw, 0x68), iblock: raw.slice(0x28, 0x28 + I_BLOCK_SIZE),
    };
  }

  /**
   * Visits the mapped blocks of `inode` below logical block `limit` in increasing logical order, coalescing
   * physically contiguous blocks into runs. Holes and uninitialized extents are not visited: they read as zeros.
   */
  private mapBlocks(inode: Inode, limit: number, visit: RunVisitor): void {
    const what = `inode ${inode.ino}`;
    let run: [number, number, number] | undefined;
    const add: RunVisitor = (logical, physical, count) => {
      if (physical < 1 || physical + count > this.blocksCount) throw new Ext4Error(`${what}: data block ${physical} is outside the file system`);
      if (run && run[0] + run[2] === logical && run[1] + run[2] === physical) run[2] += count;
      else {
        if (run) visit(...run);
        run = [logical, physical, count];
      }
    };
    if (inode.flags & EXTENTS_FL) this.walkExtents(inode.iblock, undefined, limit, { next: 0, seen: new Set() }, add, what);
    else this.walkBlockMap(inode.iblock, limit, add, what);
    if (run) visit(...run);
  }

  /**
   * An extent tree node: a 12-byte header (eh_magic 0xF30A, eh_entries, eh_max, eh_depth) and then 12-byte
   * entries, leaves (ee_block, ee_len, ee_start_hi:16, ee_start_lo:32) at depth 0 and index entries
   * (ei_block, ei_leaf_lo:32, ei_leaf_hi:16) above. Entries must come in increasing logical order and no
   * node may be visited twice, which bounds the walk by the size of the image and the copy by the file's.
   */
  private walkExtents(node: Uint8Array, depth: number | undefined, limit: number, state: { next: number; seen: Set<number> }, visit: RunVisitor, what: string): void {
    const entries = u16(node, 2), max = u16(node, 4), nodeDepth = u16(node, 6);
    if (u16(node, 0) !== EXTENT_MAGIC) throw new Ext4Error(`${what}: bad extent header magic 0x${u16(node, 0).toString(16)}`);
    if (entries > max || 12 + 12 * max > node.length) throw new Ext4Error(`${what}: bad extent header (${entries} entries, max ${max})`);
    if (nodeDepth > MAX_EXTENT_DEPTH || (depth !== undefined && nodeDepth !== depth)) throw new Ext4Error(`${what}: bad extent tree depth ${nodeDepth}`);
    for (let i = 0; i < entries; i++) {
      const e = 12 + 12 * i;
      const logical = u32(node, e);
      if (logical >= limit) break; // entries are sorted: the rest lie past the end of the file
      if (logical < state.next) throw new Ext4Error(`${what}: extents overlap or are out of order at logical block ${logical}`);
      if (nodeDepth === 0) {
        const raw = u16(node, e + 4);
        const length = raw > EXTENT_INIT_MAX ? raw - EXTENT_INIT_MAX : raw;
        state.next = logical + length;
        if (raw <= EXTENT_INIT_MAX && length > 0) visit(logical, u16(node, e + 6) * 2 ** 32 + u32(node, e + 8), Math.min(length, limit - logical));
      } else {
        const child = u32(node, e + 4) + u16(node, e + 8) * 2 ** 32;
        if (state.seen.has(child)) throw new Ext4Error(`${what}: extent tree block ${child} is referenced twice`);
        state.seen.add(child);
        state.next = logical;
        this.walkExtents(this.blocks(child, 1, what), nodeDepth - 1, limit, state, visit, what);
      }
    }
  }

  /**
   * The ext2/3 block map: i_block[0..11] point at the first 12 blocks, i_block[12], [13] and [14] at single,
   * double and triple indirect blocks of 32-bit pointers. A zero pointer is a hole (a whole subtree of one).
   */
  private walkBlockMap(iblock: Uint8Array, limit: number, visit: RunVisitor, what: string): void {
    const perBlock = this.blockSize / 4;
    const walk = (pointer: number, level: number, first: number): void => {
      if (pointer === 0 || first >= limit) return;
      if (level === 0) return visit(first, pointer, 1);
      const table = this.blocks(pointer, 1, what);
      const span = perBlock ** (level - 1);
      for (let i = 0; i < perBlock && first + i * span < limit; i++) walk(u32(table, 4 * i), level - 1, first + i * span);
    };
    for (let i = 0; i < 12; i++) walk(u32(iblock, 4 * i), 0, i);
    walk(u32(iblock, 48), 1, 12);
    walk(u32(iblock, 52), 2, 12 + perBlock);
    walk(u32(iblock, 56), 3, 12 + perBlock + perBlock ** 2);
  }

  /** The bytes of a file, a directory or a slow symlink: zeros where nothing is mapped. */
  private readData(inode: Inode, maxBytes: number, what: string): Uint8Array {
    if (inode.flags & ENCRYPT_FL) throw new Ext4Error(`${what}: encrypted (EXT4_ENCRYPT_FL), which this reader cannot decrypt`);
    if (inode.size > maxBytes) throw new Ext4Error(`${what}: ${inode.size} bytes is more than the limit of ${maxBytes}`);
    if (inode.flags & INLINE_DATA_FL) return this.inlineData(inode, what);
    const out = new Uint8Array(inode.size);
    const bs = this.blockSize;
    this.mapBlocks(inode, Math.ceil(inode.size / bs), (logical, physical, count) => {
      const start = logical * bs;
      const length = Math.min(count * bs, inode.size - start);
      for (let done = 0; done < length; done += READ_CHUNK) {
        out.set(this.bytes(physical * bs + done, Math.min(READ_CHUNK, length - done), what), start + done);
      }
    });
    return out;
  }

  /** Inline data (EXT4_INLINE_DATA_FL): the first 60 bytes live in i_block, the rest in the system.data attribute. */
  private inlineData(inode: Inode, what: string): Uint8Array {
    if (inode.size > I_BLOCK_SIZE) {
      throw new Ext4Error(`${what}: ${inode.size} bytes of inline data, beyond the 60 in i_block (the system.data attribute is not supported)`);
    }
    return inode.iblock.slice(0, inode.size);
  }

  /** A symlink's target: in i_block for a fast symlink (short, unmapped, no data blocks), else in its data. */
  private linkTarget(inode: Inode, what: string): string {
    if (inode.size > this.blockSize || inode.size > 4096) throw new Ext4Error(`${what}: symbolic link target of ${inode.size} bytes is too long`);
    const eaSectors = inode.fileAcl ? this.blockSize >> 9 : 0;
    const fast = !(inode.flags & (EXTENTS_FL | INLINE_DATA_FL)) && inode.size < I_BLOCK_SIZE && inode.sectors <= eaSectors;
    return decoder.decode(fast ? inode.iblock.subarray(0, inode.size) : this.readData(inode, this.blockSize, what));
  }

  /** All entries of a directory, "." and ".." included, read linearly (an htree's index blocks hold only empty entries). */
  private dirEntries(dir: Inode, what: string): RawDirent[] {
    if (dir.flags & ENCRYPT_FL) throw new Ext4Error(`${what}: directory inode ${dir.ino} is encrypted (EXT4_ENCRYPT_FL)`);
    const out: RawDirent[] = [];
    if (dir.flags & INLINE_DATA_FL) {
      // An inline directory keeps its parent's inode number in the first 4 bytes of i_block, entries after.
      const data = this.inlineData(dir, what);
      out.push({ name: '.', ino: dir.ino, fileType: 2 }, { name: '..', ino: u32(data, 0), fileType: 2 });
      if (data.length > 4) this.parseDirBlock(data.subarray(4), out, what);
      return out;
    }
    if (dir.size > MAX_DIR_BYTES) throw new Ext4Error(`${what}: directory inode ${dir.ino} claims ${dir.size} bytes, too many to be real`);
    const bs = this.blockSize;
    this.mapBlocks(dir, Math.ceil(dir.size / bs), (_logical, physical, count) => {
      const data = this.bytes(physical * bs, count * bs, what);
      for (let i = 0; i < count; i++) this.parseDirBlock(data.subarray(i * bs, (i + 1) * bs), out, what);
    });
    return out;
  }

  /**
   * One directory block of ext4_dir_entry(_2): inode (0 = unused, as are htree index and checksum tail
   * entries), rec_len, name_len (one byte followed by file_type with the filetype feature, else 16 bits),
   * name. Each rec_len must hold its name and stay inside the block, so the chain always ends.
   */
  private parseDirBlock(block: Uint8Array, out: RawDirent[], what: string): void {
    for (let off = 0; off < block.length; ) {
      if (off + 8 > block.length) throw new Ext4Error(`${what}: directory entry at byte ${off} overflows its block`);
      const ino = u32(block, off);
      const nameLength = this.filetype ? block[off + 6] : u16(block, off + 6);
      const recLength = this.recLen(u16(block, off + 4));
      if (recLength < 8 || recLength % 4 !== 0 || off + recLength > block.length || 8 + nameLength > recLength) {
        throw new Ext4Error(`${what}: bad directory entry at byte ${off} of a block (rec_len ${recLength}, name_len ${nameLength})`);
      }
      if (ino > this.inodesCount) throw new Ext4Error(`${what}: a directory entry names inode ${ino}, beyond the last (${this.inodesCount})`);
      if (ino !== 0 && nameLength > 0) {
        const name = decoder.decode(block.subarray(off + 8, off + 8 + nameLength));
        out.push({ name, ino, fileType: this.filetype ? block[off + 7] : 0 });
      }
      off += recLength;
    }
  }

  /** rec_len as stored: with 64 KiB blocks, 0 and 65535 mean a whole block and the low 2 bits extend the range. */
  private recLen(raw: number): number {
    if (this.blockSize < 65536) return raw;
    return raw === 0 || raw === 65535 ? 65536 : (raw & 0xfffc) | ((raw & 3) << 16);
  }
}

function statOf(inode: Inode): Ext4Stat {
  return { inode: inode.ino, type: typeOf(inode.mode), mode: inode.mode, size: inode.size };
}
