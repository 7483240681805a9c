/**
 * Real DNS tools for tests: `dig` (bind9-dnsutils) as the client, and a
 * `dnsmasq` on loopback as an upstream resolver with records of its own.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { freePort, missingComponent, waitFor } from './processes.ts';

const run = promisify(execFile);
const DNSMASQ = '/usr/sbin/dnsmasq';

/** True when dig is installed; otherwise reports it missing (CI fails on that). */
export async function digReady(): Promise<boolean> {
  try {
    await run('dig', ['-v']);
    return true;
  } catch {
    missingComponent('dig', 'bash install/test-host.sh installs bind9-dnsutils');
    return false;
  }
}

/** Runs dig against 127.0.0.1:port; resolves with its full text output. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=1', ...args], { timeout: 20_000 });
  return stdout;
}

/** The status word of a dig answer (NOERROR, NXDOMAIN...). */
export const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
/** The header flags of a dig answer, e.g. ['qr', 'aa', 'rd', 'ra']. */
export const flags = (out: string) => (/;; flags: ([a-z ]+);/.exec(out)?.[1] ?? '').trim().split(/\s+/);
/** The records of one section (ANSWER, AUTHORITY, ADDITIONAL) as [name, ttl, class, type, ...data] rows. */
export function section(out: string, name: string): string[][] {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
  return m ? m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
}

export interface Dnsmasq {
  port: number;
  child: ChildProcess;
  /** How many queries for `name` dnsmasq logged. */
  queriesFor(name: string): number;
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq on 127.0.0.1 with `--address` records of its own and no
 * upstream, logging every query; undefined (and reported) when it is missing.
 */
export async function startDnsmasq(records: Record<string, string>, localTtl = 2): Promise<Dnsmasq | undefined> {
  if (!existsSync(DNSMASQ)) {
    missingComponent('dnsmasq', 'bash install/test-host.sh installs dnsmasq-base');
    return undefined;
  }
  const port = await freePort();
  const args = ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces', '--listen-address=127.0.0.1',
    `--port=${port}`, `--local-ttl=${localTtl}`, '--log-queries', '--log-facility=-', '--pid-file=', '--user=root', '--conf-file=/dev/null'];
  for (const [name, address] of Object.entries(records)) args.push(`--address=/${name}/${address}`);
  const child = spawn(DNSMASQ, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await waitFor('dnsmasq to start', () => {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${log}`);
    return /started, version/.test(log);
  }, 10_000);
  return {
    port,
    child,
    queriesFor: (name) => log.split('\n').filter((l) => l.includes(`query[`) && l.includes(` ${name} `)).length,
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}
