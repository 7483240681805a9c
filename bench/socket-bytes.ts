/** Bytes a process sent over its TCP connections to one port, from `ss -tinp` (iproute2). */
import { execFileSync } from 'node:child_process';

/**
 * Per connection of `pid` to `port`: bytes the peer acknowledged, keyed by
 * the local address. What went over the wire: WebSocket frames after
 * the agent's own compression, with their headers, not counting TCP/IP headers.
 */
export function bytesAckedTo(pid: number, port: number): Map<string, number> {
  const out = execFileSync('ss', ['-tinpH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  const lines = out.split('\n');
  const result = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.includes(`pid=${pid},`)) continue;
    const local = line.trim().split(/\s+/)[2] ?? `#${i}`;
    const acked = /bytes_acked:(\d+)/.exec(lines[i + 1] ?? '');
    // bytes_acked counts the SYN as one byte.
    if (acked) result.set(local, Number(acked[1]) - 1);
  }
  return result;
}

/** Bytes sent between two readings, or undefined when the connection changed (a reconnect) in between. */
export function bytesBetween(before: Map<string, number>, after: Map<string, number>): number | undefined {
  if (before.size === 0 || before.size !== after.size) return undefined;
  let sum = 0;
  for (const [local, b] of before) {
    const a = after.get(local);
    if (a === undefined) return undefined;
    sum += a - b;
  }
  return sum;
}
