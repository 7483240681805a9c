/**
 * Network namespaces as extra test hosts: each one has its own address on a
 * veth link to the root namespace, so an agent started inside it talks to a
 * hub in the root namespace over a real link that a test can black-hole
 * (packets silently dropped, as when a router or firewall between two
 * machines loses them) and heal again. Needs root and iproute2 (`ip`, `tc`).
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { missingComponent } from './processes.ts';

const run = promisify(execFile);

/** Every namespace a test makes is called `muster-t-<pid>-<n>`, so strays can be found and their owner checked. */
export const NETNS_PREFIX = 'muster-t-';
const NAME_RE = /^muster-t-(\d+)-(\d+)$/;

/**
 * The drop filter, as classic BPF for the kernel's `bpf` classifier in
 * direct-action mode (the program's return value is the verdict):
 *   ldh [skb->protocol]; jeq #ETH_P_ARP, 0, 1; ret #TC_ACT_OK; ret #TC_ACT_SHOT
 * Classic bytecode because `tc` loads it without clang or an object file, and
 * cls_bpf + clsact are built into kernels that lack netem and the gact
 * ("action drop") module, like the test VM's. ARP still passes: the drop is
 * then "somewhere past the first hop", so the neighbour entry stays valid and
 * the kernel never reports a local EHOSTUNREACH to the sockets; they just go
 * quiet, which is what a black hole looks like to an application.
 */
const DROP_ALL_BUT_ARP = '4,40 0 0 4294963200,21 0 1 2054,6 0 0 0,6 0 0 2,';

/** Runs `ip`/`tc`; resolves with trimmed stdout, rejects with the command and its stderr in the message. */
async function cmd(file: 'ip' | 'tc', ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: 20_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** A namespace with its own address, linked to the root namespace by a veth pair. */
export interface TestHost {
  /** The namespace's name, `muster-t-<pid>-<n>`. */
  name: string;
  /** The root-namespace end of the link: where a hub listens for this host's processes. */
  hostAddress: string;
  /** The namespace end: this host's own address, the one the hub sees connections come from. */
  address: string;
  /** The veth end in the root namespace (inside, the other end is called `eth0`). */
  rootInterface: string;
  /** Starts `cmd args...` inside the namespace (the child's pid is cmd's own: `ip netns exec` execs it). */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Runs a command inside the namespace to completion; resolves with its stdout, rejects when it fails. */
  exec(cmd: string, args?: readonly string[], opts?: { timeoutMs?: number }): Promise<string>;
  /**
   * Silently drops every IP packet between the two ends, both ways: no RST,
   * no ICMP, no error on either side's sockets; writes succeed locally and
   * TCP retransmits into the void. Idempotent.
   */
  blackhole(): Promise<void>;
  /**
   * Undoes blackhole(). New connections work at once; an open TCP connection
   * resumes at its next retransmission, which backs off: about 17 s after a
   * 36 s black hole in a trial here, at most TCP_RTO_MAX (120 s). Idempotent.
   */
  heal(): Promise<void>;
  /** Whether the link is black-holed right now. */
  readonly blackholed: boolean;
  /** Kills everything running inside, deletes the veth pair and the namespace. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Map<string, TestHost>();
let counter = 0;
let swept = false;
let exitHookInstalled = false;

/** Whether the process with this pid still runs (a namespace named after it still has an owner). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The root-namespace veth name for namespace number n of process pid (interface names are limited to 15 bytes). */
const rootIfName = (pid: number | string, n: number | string) => `mt${pid}-${n}`;

/** SIGKILLs every process inside a namespace: a namespace with members outlives `ip netns del`. */
async function killInside(name: string): Promise<void> {
  const pids = await cmd('ip', 'netns', 'pids', name).catch(() => '');
  for (const p of pids.split(/\s+/).filter(Boolean)) {
    try { process.kill(Number(p), 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** Removes a namespace and its link, ignoring what is already gone. */
async function removeNamespace(name: string, rootIf: string): Promise<void> {
  await killInside(name);
  // Deleting one veth end deletes both, at once; waiting for the namespace to be
  // freed would leave the pair (and its /30) in place until its last process is reaped.
  await cmd('ip', 'link', 'del', rootIf).catch(() => '');
  await cmd('ip', 'netns', 'del', name).catch(() => '');
}

/**
 * Removes the `muster-t-*` namespaces (and their links) left by test
 * processes that are gone, e.g. killed by Ctrl-C before their cleanup ran.
 * Namespaces of live processes, such as a parallel test run, are left alone.
 */
export async function sweepStaleTestHosts(): Promise<string[]> {
  const list = await cmd('ip', 'netns', 'list').catch(() => '');
  const removed: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = NAME_RE.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await removeNamespace(name, rootIfName(m[1]!, m[2]!));
    removed.push(name);
  }
  return removed;
}

/**
 * Picks a free /30 in 10.213.0.0/16. The search starts at a block derived from
 * pid and counter, so parallel test processes start far apart, and skips
 * blocks whose first address is already on an interface here.
 */
async function pickSubnet(n: number): Promise<{ hostAddress: string; address: string }> {
  const used = new Set((await cmd('ip', '-4', '-o', 'addr', 'show')).match(/\b10\.213\.\d+\.\d+(?=\/)/g) ?? []);
  const blocks = 16384;
  const start = ((process.pid % 256) * 64 + n) % blocks;
  for (let i = 0; i < blocks; i++) {
    const base = ((start + i) % blocks) * 4;
    const at = (k: number) => `10.213.${(base + k) >> 8}.${(base + k) & 255}`;
    if (!used.has(at(1)) && !used.has(at(2))) return { hostAddress: at(1), address: at(2) };
  }
  throw new Error('no free /30 left in 10.213.0.0/16');
}

/**
 * The last resort when a test process ends without its cleanup having run
 * (an uncaught error, process.exit): synchronous, because nothing async runs in 'exit'.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const h of live.values()) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', h.name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
        for (const p of pids.split(/\s+/).filter(Boolean)) {
          try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
        }
      } catch { /* the namespace is gone already */ }
      try { execFileSync('ip', ['link', 'del', h.rootInterface], { stdio: 'ignore' }); } catch { /* gone */ }
      try { execFileSync('ip', ['netns', 'del', h.name], { stdio: 'ignore' }); } catch { /* gone */ }
    }
  });
}

/**
 * Makes a new test host: namespace `muster-t-<pid>-<n>`, a veth pair with a
 * private /30 (root end `hostAddress`, namespace end `address` on `eth0`),
 * loopback and both ends up. No default route inside: the host reaches the
 * root namespace's `hostAddress` and nothing else.
 */
export async function createTestHost(): Promise<TestHost> {
  if (!swept) {
    swept = true;
    await sweepStaleTestHosts();
  }
  const n = counter++;
  const name = `${NETNS_PREFIX}${process.pid}-${n}`;
  const rootInterface = rootIfName(process.pid, n);
  const { hostAddress, address } = await pickSubnet(n);
  installExitHook();

  const children = new Set<ChildProcess>();
  let blackholed = false;
  let destroyed = false;
  const inside = (file: string, args: readonly string[]) => ['netns', 'exec', name, file, ...args];

  const host: TestHost = {
    name,
    hostAddress,
    address,
    rootInterface,
    get blackholed() { return blackholed; },

    spawn(file, args = [], opts = {}) {
      if (destroyed) throw new Error(`test host ${name} is destroyed`);
      const child = spawn('ip', inside(file, args), opts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },

    async exec(file, args = [], opts = {}) {
      try {
        const { stdout } = await run('ip', inside(file, args), { timeout: opts.timeoutMs ?? 20_000 });
        return stdout.trim();
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`in ${name}: ${file} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
      }
    },

    async blackhole() {
      if (blackholed) return;
      // Ingress on both ends: a packet is dropped on arrival at the far side, after the
      // sender's stack handed it over successfully. (An egress drop would be reported
      // back to the sending stack as a local drop.)
      for (const ns of [[], ['-n', name]]) {
        const dev = ns.length ? 'eth0' : rootInterface;
        await cmd('tc', ...ns, 'qdisc', 'replace', 'dev', dev, 'clsact');
        await cmd('tc', ...ns, 'filter', 'replace', 'dev', dev, 'ingress', 'pref', '1', 'handle', '1', 'bpf', 'bytecode', DROP_ALL_BUT_ARP, 'da');
      }
      blackholed = true;
    },

    async heal() {
      // Deleting the clsact qdisc takes its filters with it; "not found" means nothing to undo.
      await cmd('tc', 'qdisc', 'del', 'dev', rootInterface, 'clsact').catch(() => '');
      await cmd('tc', '-n', name, 'qdisc', 'del', 'dev', 'eth0', 'clsact').catch(() => '');
      blackholed = false;
    },

    async destroy() {
      if (destroyed) return;
      destroyed = true;
      const exits = [...children].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }));
      await removeNamespace(name, rootInterface);
      // Let the children's 'exit' events arrive now rather than during a later test;
      // bounded, since a child stuck in uninterruptible sleep should not hang cleanup.
      await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 2_000))]);
      live.delete(name);
    },
  };

  live.set(name, host);
  try {
    await cmd('ip', 'netns', 'add', name);
    // The namespace end is created inside the namespace directly, already called eth0,
    // so an agent there sees an ordinary machine's interface name.
    await cmd('ip', 'link', 'add', rootInterface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
    await cmd('ip', 'addr', 'add', `${hostAddress}/30`, 'dev', rootInterface);
    await cmd('ip', 'link', 'set', rootInterface, 'up');
    await cmd('ip', '-n', name, 'addr', 'add', `${address}/30`, 'dev', 'eth0');
    await cmd('ip', '-n', name, 'link', 'set', 'lo', 'up');
    await cmd('ip', '-n', name, 'link', 'set', 'eth0', 'up');
  } catch (err) {
    await host.destroy();
    throw err;
  }
  return host;
}

/** Destroys every test host this process made; call it from test.after. */
export async function destroyAllTestHosts(): Promise<void> {
  for (const h of [...live.values()]) await h.destroy();
}

let readiness: Promise<boolean> | undefined;

/**
 * True when this machine can make test hosts and black-hole them (root, a
 * Linux kernel with network namespaces, veth, clsact and cls_bpf, iproute2),
 * tried for real once per process. Otherwise reports the missing component
 * (CI treats that as a failure) and returns false.
 */
export function netnsReady(): Promise<boolean> {
  readiness ??= (async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      missingComponent('a network namespace test host', 'run the tests as root on Linux');
      return false;
    }
    let probe: TestHost | undefined;
    try {
      await cmd('ip', 'netns', 'list');
      probe = await createTestHost();
      await probe.blackhole();
      await probe.heal();
      return true;
    } catch (err) {
      missingComponent('a network namespace test host', `needs iproute2 (bash install/test-host.sh installs it) and a kernel with veth, clsact and cls_bpf: ${(err as Error).message.split('\n')[0]}`);
      return false;
    } finally {
      await probe?.destroy();
    }
  })();
  return readiness;
}
