// Live migration (issue 15): its policy (how many pre-copy rounds, and when few enough pages are left to stop
// the guest for the rest), where the guest goes (a Destination: a new thread of this daemon, or another daemon
// through a MigrationLink), the messages between two daemons, and the gathered pages. Pages travel as
// core/snapshot/pages.ts packs them.
import type { ApiErrorCode } from './errors.js';
import { packRecords } from '../core/snapshot/pages.js';
import type { MachineDescription } from './machine.js';
import type { VmInfo, VmSpec } from './model.js';

/** Rounds of pre-copy at most (the first sends everything): a guest writing faster than the copy stops anyway. */
export const PRECOPY_ROUNDS = 8;
/** Few enough pages written in a round (1 MiB) to copy the rest with the guest stopped. */
export const STOP_COPY_PAGES = 256;

/** The latest copy of each page gathered over the rounds, packed (core/snapshot/pages.ts) in ascending order. */
export function packPages(copy: ReadonlyMap<number, Uint8Array>): ArrayBuffer {
  return packRecords([...copy].sort((a, b) => a[0] - b[0]));
}

/** Where a migrating guest goes (Migrations.migrate drives it). */
export interface Destination {
  /** Each batch of pages as it is taken (pre-copy rounds, and the stop-and-copy's last one); it may be transferred. */
  pages(batch: ArrayBuffer): void;
  /**
   * Resolves once the destination has taken every batch given so far (its machine built first), so that the next
   * round counts the pages written meanwhile; rejects if it cannot take the guest.
   */
  drain(): Promise<void>;
  /**
   * After the stop-and-copy: the guest resumes there from its `state`; resolves with the VM as the other daemon
   * reports it, or null within this daemon. Rejects if it cannot (an ApiError saying where the VM is then).
   */
  resume(state: unknown): Promise<VmInfo | null>;
  /** Given up before resume(). */
  abort(): void;
}

/** Messages between the daemon a VM leaves and the one it goes to (JSON), besides the binary page batches. */
export type MigrationMessage =
  /** The VM coming: its definition, the machine its guest runs, its balloon and whether it is paused. */
  | { t: 'begin'; spec: VmSpec; machine: MachineDescription; balloon_mib: number; paused: boolean }
  | { t: 'accepted' }
  /** Answered by 'synced' once every batch sent before is in the guest's new machine. */
  | { t: 'sync' }
  | { t: 'synced' }
  /** Every page is sent and the sender's disks are closed: resume it from `state` (Vm.saveState()). */
  | { t: 'final'; state: unknown }
  | { t: 'done'; vm: VmInfo }
  | { t: 'error'; code: ApiErrorCode; message: string };

/** The sender's end of a connection to another daemon's GET /v1/migrations/incoming (a host's WebSocket). */
export interface MigrationLink {
  send(m: MigrationMessage): void;
  /** A batch of pages, in one or more binary messages. */
  sendPages(batch: ArrayBuffer): void;
  /** The next message from the other daemon; rejects when the connection ends first. */
  next(): Promise<MigrationMessage>;
  close(): void;
}

/** `p`, or a rejection (`what`) after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The receiving end of a migration (VmManager.incomingMigration), driven by a host's connection. */
export interface IncomingMigration {
  /** Admits the VM and builds its machine in a new thread; rejects (ApiError) when it cannot come. */
  begin(m: Extract<MigrationMessage, { t: 'begin' }>): Promise<void>;
  /** A batch of pages (transferred to the VM's new thread). */
  pages(batch: ArrayBuffer): void;
  /** Resolves once every batch given so far is in the guest's new machine. */
  sync(): Promise<void>;
  /** Defines the VM and resumes its guest from `state`; resolves with it (throws ApiError). */
  final(state: unknown): Promise<VmInfo>;
  /** The sender went away before final(). */
  abort(): void;
}

/** How long the other daemon may take to answer (to admit the VM; to resume it, its thread set up and its RAM filled). */
export const PEER_ANSWER_MS = 60_000;

/** The other daemon's next message, or a rejection after `ms`. */
export function answer(link: MigrationLink, ms: number): Promise<MigrationMessage> {
  return within(link.next(), ms, 'no answer');
}
