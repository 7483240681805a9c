/**
 * The Node/V8 flags the hub runs with, and how `muster hub` and `muster up`
 * make sure they apply. V8 reads them only when a process starts, so a hub
 * started without them replaces itself (process.execve: the same PID, no
 * second Node left behind) with one that has them.
 */

/**
 * --max-semi-space-size=4: a young generation of 8 MiB instead of V8's
 * 64 MiB. The hub keeps every node's workloads in memory and replaces them
 * as deltas arrive, so much of what a scavenge copies survives it; with the
 * large default, scavenges of 50-80 ms sat in the ack latency. Measured with
 * bench/hub-ingest.ts at 2,000 agents: p99 ack 63 -> 45 ms, RSS 537 -> 426 MiB,
 * CPU 17.2 -> 16.6 % (see bench/README.md).
 */
export const HUB_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** Commands that run a hub in this process. */
const HUB_COMMANDS = new Set(['hub', 'up']);

/**
 * Re-executes the process with HUB_NODE_FLAGS when `command` runs a hub and
 * they are missing. Does not return when it re-executes. MUSTER_NODE_FLAGS=keep
 * leaves the runtime as started (to measure without the flags).
 */
export function ensureHubRuntime(command: string | undefined, env: NodeJS.ProcessEnv): void {
  if (!command || !HUB_COMMANDS.has(command) || env.MUSTER_NODE_FLAGS === 'keep') return;
  const missing = HUB_NODE_FLAGS.filter((f) => !process.execArgv.some((a) => a.split('=')[0] === f.split('=')[0]));
  if (missing.length === 0 || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], env as Record<string, string>);
}
