/**
 * Listening TCP sockets and bound UDP sockets, from /proc/net/{tcp,tcp6,udp,udp6},
 * each tied to the process that holds it through /proc/PID/fd. The fd scan
 * runs only when a socket appears whose holder is not known yet, so the
 * steady state costs four file reads. Of tcp and tcp6 only the listening
 * sockets are read, which the kernel lists before all others: the read stops
 * at the first socket that is not listening, so neither the number of
 * connections nor the size of the kernel's TCP hash sets its cost (see
 * seq-file.ts).
 *
 * The scan reads a link per open file of every process until it has found
 * what it looks for, so it looks at the newest processes first (a new socket
 * is most often a new process's). A socket no process holds (the kernel's:
 * WireGuard, VXLAN, NFS; or a process out of sight) would make every scan
 * read them all: its holder is looked for again after retryMs, then after
 * twice as long each time it is not found, up to maxRetryMs.
 */
import { endianness } from 'node:os';
import { readdirSync, readlinkSync } from 'node:fs';
import type { ListenPort, ProcessInfo } from '../../protocol/workloads.ts';
import { hostPath } from './read.ts';
import { createSeqFileReader, createSeqPrefixReader } from './seq-file.ts';

/** One socket line of /proc/net/*. */
export interface NetSocket {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
  inode: number;
}

const TCP_LISTEN = '0A';
/** A /proc/net/tcp or tcp6 record of a listening socket: `  sl: local remote st ...`. */
const LISTEN_RECORD = /^\s*\d+: \S+ \S+ 0A /;
/** Bytes asked for per listener expected in a tcp or tcp6 read (their records are 150 and ~180 bytes). */
const TCP_RECORD_BYTES = 180;
const UDP_UNCONNECTED = '07';

/** Formats 16 bytes as an IPv6 address, compressing the longest run of zero groups, with mapped IPv4 as ::ffff:a.b.c.d. */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Decodes the kernel's hex address: 32-bit words printed in host byte order
 * (so on little-endian machines each word's bytes are reversed).
 */
export function decodeAddress(hex: string, littleEndian = endianness() === 'LE'): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let w = 0; w < hex.length / 8; w++) {
    for (let b = 0; b < 4; b++) {
      const src = littleEndian ? 3 - b : b;
      bytes[w * 4 + b] = parseInt(hex.slice(w * 8 + src * 2, w * 8 + src * 2 + 2), 16);
    }
  }
  return bytes.length === 4 ? bytes.join('.') : formatIpv6(bytes);
}

/** Parses one /proc/net file: listening TCP sockets, or unconnected (bound) UDP sockets. */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', littleEndian?: boolean): NetSocket[] {
  const out: NetSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, state, inodeText] = [f[1]!, f[2]!, f[3]!, f[9]!];
    if (protocol === 'tcp' ? state !== TCP_LISTEN : state !== UDP_UNCONNECTED || !/^0+:0000$/.test(remote)) continue;
    const [addrHex, portHex] = local.split(':');
    if (!addrHex || !portHex) continue;
    const inode = Number(inodeText);
    out.push({ protocol, address: decodeAddress(addrHex, littleEndian), port: parseInt(portHex, 16), inode });
  }
  return out;
}

export interface ListenerReaderOptions {
  root?: string;
  /** Holders not found are looked for again after this long (default 60 s), then twice as long each time. */
  retryMs?: number;
  /** The longest wait before a holder not found is looked for again (default 30 min). */
  maxRetryMs?: number;
  now?: () => number;
}

/** Reads the node's listening sockets and ties them to the given processes. */
export interface ListenerReader {
  read(processes: ProcessInfo[]): Promise<ListenPort[]>;
}

/** Creates a reader with an empty inode cache. */
export function createListenerReader(opts: ListenerReaderOptions): ListenerReader {
  const root = opts.root ?? '/';
  const retryMs = opts.retryMs ?? 60_000;
  const maxRetryMs = opts.maxRetryMs ?? 30 * 60_000;
  const now = opts.now ?? Date.now;
  /** Socket inode -> holding pid (null: looked, not found, at `at`; the next look after `waitMs`). */
  const holders = new Map<number, { pid: number | null; at: number; waitMs: number }>();
  const readSeq = createSeqFileReader(root);
  const readPrefix = createSeqPrefixReader(root);
  /** Listeners seen in tcp and tcp6 at the last read: what the next read asks the kernel for first. */
  const lastListening = { tcp: 0, tcp6: 0 };
  const isListening = (record: string) => LISTEN_RECORD.test(record);
  /** The listening sockets: tcp and tcp6 up to their first socket that is not listening, udp and udp6 whole. */
  function readSockets(): NetSocket[] {
    const sockets: NetSocket[] = [];
    for (const [file, protocol] of [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const) {
      try {
        if (file === 'tcp' || file === 'tcp6') {
          const found = parseProcNet(readPrefix(`/proc/net/${file}`, isListening, (lastListening[file] + 2) * TCP_RECORD_BYTES), protocol);
          lastListening[file] = found.length;
          sockets.push(...found);
        } else {
          sockets.push(...parseProcNet(readSeq(`/proc/net/${file}`), protocol));
        }
      } catch {
        // no IPv6 on this kernel: nothing to list there
      }
    }
    return sockets;
  }

  /** Maps socket inodes to pids by reading every process's fd links. */
  function scan(wanted: Set<number>, processes: ProcessInfo[]): void {
    const t = now();
    const newestFirst = [...processes].sort((a, b) => b.startTime - a.startTime);
    for (const p of newestFirst) {
      if (wanted.size === 0) break;
      let fds: string[];
      try {
        fds = readdirSync(hostPath(root, `/proc/${p.pid}/fd`));
      } catch {
        continue; // gone, or not ours to read
      }
      for (const fd of fds) {
        let link: string;
        try { link = readlinkSync(hostPath(root, `/proc/${p.pid}/fd/${fd}`)); } catch { continue; }
        if (!link.startsWith('socket:[')) continue;
        const inode = Number(link.slice(8, -1));
        if (wanted.delete(inode)) holders.set(inode, { pid: p.pid, at: t, waitMs: 0 });
      }
    }
    for (const inode of wanted) {
      const before = holders.get(inode);
      // Missed once, looked for at the next read: its process may have started between the process list and the socket tables.
      const waitMs = before?.pid !== null ? 0 : before.waitMs === 0 ? retryMs : Math.min(before.waitMs * 2, maxRetryMs);
      holders.set(inode, { pid: null, at: t, waitMs });
    }
  }

  return {
    async read(processes) {
      const sockets = readSockets();
      const byPid = new Map(processes.map((p) => [p.pid, p]));
      const t = now();
      const wanted = new Set<number>();
      const live = new Set<number>();
      for (const s of sockets) {
        if (s.inode === 0) continue;
        live.add(s.inode);
        const h = holders.get(s.inode);
        const stale = !h || (h.pid === null ? t - h.at >= h.waitMs : !byPid.has(h.pid));
        if (stale) wanted.add(s.inode);
      }
      for (const inode of holders.keys()) if (!live.has(inode)) holders.delete(inode);
      if (wanted.size > 0) scan(wanted, processes);

      const seen = new Set<string>();
      const out: ListenPort[] = [];
      for (const s of sockets) {
        const key = `${s.protocol} ${s.address}:${s.port}`;
        if (seen.has(key)) continue; // SO_REUSEPORT groups: one entry per address
        seen.add(key);
        const pid = holders.get(s.inode)?.pid ?? undefined;
        const p = pid !== undefined ? byPid.get(pid) : undefined;
        out.push({
          protocol: s.protocol, address: s.address, port: s.port,
          ...(p ? { pid: p.pid, process: p.name } : {}),
          owner: p?.owner ?? {},
        });
      }
      return out;
    },
  };
}

