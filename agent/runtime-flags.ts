/**
 * The Node/V8 flags the bundled agent runs with, and how it gets them. V8
 * reads them only when a process starts: the service's launcher (run.sh,
 * written by install/agent-install.sh) passes them, and an agent started any
 * other way on a Node that has process.execve (22.15+, 24) replaces itself
 * with one that has them: the same PID, no second Node left behind. Node 18
 * and 20 lack execve; started by hand there, the agent runs as started.
 *
 * Measured with bench/agent-footprint.ts (bench/README.md), agent RSS over a
 * bare Node on the same binary, idle, one window:
 *   --lite-mode: interpreter only (it implies --jitless) and V8's
 *     memory-saving trade-offs. Optimizing compilers never run, so their code
 *     in the Node binary is never paged in and their zones and JIT code never
 *     allocated: Node 24 +37.9 -> +21.1 MiB, Node 18 +19.1 -> ~+13 MiB. The
 *     agent's CPU at idle stayed where it was: its hot paths are /proc
 *     parsing, JSON, zlib and TLS, which run in C++ either way.
 *   --max-semi-space-size=1: a young generation of 2 MiB at most; the agent
 *     allocates little per tick, and a scavenge of it takes well under 1 ms.
 *   --no-expose-wasm (Node <= 20 only): jitless turns WebAssembly off there
 *     with a warning on every start unless told so; Node 24 has no such flag
 *     and refuses to start with it. The agent uses no WebAssembly.
 */

/** MUSTER_NODE_FLAGS=keep leaves the runtime as started (to measure without the flags). */
export const KEEP_RUNTIME = 'keep';

/** The flags for a Node.js version (`process.version`, e.g. `v18.20.8`). */
export function agentNodeFlags(nodeVersion: string): string[] {
  const major = Number(/^v?(\d+)\./.exec(nodeVersion)?.[1] ?? 0);
  return major > 0 && major <= 20
    ? ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1']
    : ['--lite-mode', '--max-semi-space-size=1'];
}

/** What the running process is: its Node version and the flags it was started with. */
export interface RuntimeInfo {
  version: string;
  execPath: string;
  execArgv: readonly string[];
  /** process.argv: the node binary, the script, the agent's flags. */
  argv: readonly string[];
  env: Record<string, string | undefined>;
}

/** The agent's flags the process was started without (a flag counts by its name, whatever its value). */
export function missingAgentFlags(rt: Pick<RuntimeInfo, 'version' | 'execArgv'>): string[] {
  const name = (f: string) => f.split('=')[0]!;
  const given = new Set(rt.execArgv.map(name));
  return agentNodeFlags(rt.version).filter((f) => !given.has(name(f)));
}

/**
 * The argv to re-execute with so that the agent runs with its flags, or
 * undefined when it already has them or should run as started.
 */
export function agentReexecArgv(rt: RuntimeInfo): string[] | undefined {
  if (rt.env.MUSTER_NODE_FLAGS === KEEP_RUNTIME) return undefined;
  const missing = missingAgentFlags(rt);
  if (missing.length === 0) return undefined;
  return [rt.execPath, ...missing, ...rt.execArgv, ...rt.argv.slice(1)];
}

/**
 * Replaces this process with one that has the agent's flags, when they are
 * missing and the runtime can (process.execve). Does not return when it
 * re-executes; returns false when the agent runs without some of them.
 */
export function ensureAgentRuntime(proc: Pick<NodeJS.Process, 'version' | 'execPath' | 'execArgv' | 'argv' | 'env' | 'execve'>): boolean {
  const argv = agentReexecArgv(proc);
  if (!argv) return true;
  if (typeof proc.execve !== 'function') return false;
  try {
    return proc.execve(proc.execPath, argv, proc.env);
  } catch {
    return false; // a sandbox that forbids execve: run as started rather than not at all
  }
}
