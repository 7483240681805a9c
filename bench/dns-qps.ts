/**
 * DNS queries per second and latency: muster's DNS server beside dnsmasq,
 * both answering the same N names (nX.node.internal A) on loopback, measured
 * by dnsperf over UDP and TCP, in alternating rounds in one run. Servers run
 * on CPU 0, dnsperf on CPU 1 (taskset), so each server has one core.
 *
 * Targets (issue 14, with every defence on: recursion ACL, response rate
 * limiting accounted for every query, TCP caps): over UDP at least half of
 * dnsmasq's QPS (aiming for three quarters), over TCP at least as much.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { durationFlag, parseFlags, UsageError } from './bench-args.ts';
import { median } from './stats.ts';
import { benchAddress } from './dns-bench-server.ts';

const USAGE = `Usage: node bench/dns-qps.ts [--names 1000] [--duration 10s] [--rounds 3] [--clients 20] [--json]
       npm run bench:dns -- [flags]

dnsperf against muster's DNS server and against dnsmasq serving the same names,
UDP and TCP, alternating, servers pinned to CPU 0 and dnsperf to CPU 1.
Needs dnsperf and dnsmasq (apt-get install -y dnsperf dnsmasq-base).
`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DNSMASQ = '/usr/sbin/dnsmasq';

/** muster's q/s over dnsmasq's, at least. */
const TARGETS = { udp: 0.5, tcp: 1 } as const;

interface Run { server: 'muster' | 'dnsmasq'; mode: 'udp' | 'tcp'; qps: number; avgLatencyMs: number; lost: number; sent: number }

function waitForLine(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) { child.stdout?.off('data', onData); child.stderr?.off('data', onData); resolve(m); }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 15_000).unref();
  });
}

function dnsperf(port: number, queries: string, mode: 'udp' | 'tcp', seconds: number, clients: number): Omit<Run, 'server'> {
  const out = execFileSync('taskset', ['-c', '1', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(seconds),
    '-c', String(clients), '-q', '500', '-m', mode], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    mode,
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    sent: num(/Queries sent:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
  };
}

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), {
    names: { type: 'string' }, duration: { type: 'string' }, rounds: { type: 'string' }, clients: { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const n = Number(values.names ?? 1000);
  const rounds = Number(values.rounds ?? 3);
  const clients = Number(values.clients ?? 20);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError('--names must be 1 to 100000');
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError('--rounds must be a positive integer');
  if (!Number.isInteger(clients) || clients < 1) throw new UsageError('--clients must be a positive integer');
  const seconds = Math.max(1, Math.round(durationFlag('duration', values.duration, '10s') / 1000));
  for (const tool of ['dnsperf', 'taskset']) {
    try { execFileSync('which', [tool]); } catch { process.stderr.write(`${tool} is missing: apt-get install -y dnsperf util-linux\n`); return 1; }
  }
  if (!existsSync(DNSMASQ)) { process.stderr.write(`${DNSMASQ} is missing: apt-get install -y dnsmasq-base\n`); return 1; }
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'muster-bench-dns-'));
  const hosts = join(dir, 'hosts');
  const queries = join(dir, 'queries');
  writeFileSync(hosts, Array.from({ length: n }, (_, i) => `${benchAddress(i)} n${i}.node.internal`).join('\n') + '\n');
  // Every name once, in a shuffled order; dnsperf loops over the file.
  const order = Array.from({ length: n }, (_, i) => i).sort(() => Math.random() - 0.5);
  writeFileSync(queries, order.map((i) => `n${i}.node.internal A`).join('\n') + '\n');

  const muster = spawn('taskset', ['-c', '0', process.execPath, join(ROOT, 'bench/dns-bench-server.ts'), String(n)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const musterPort = Number((await waitForLine(muster, /port (\d+)/, 'muster DNS'))[1]);
  const dnsmasqPort = 20000 + Math.floor(Math.random() * 20000);
  const dnsmasq = spawn('taskset', ['-c', '0', DNSMASQ, '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
    '--listen-address=127.0.0.1', `--port=${dnsmasqPort}`, `--addn-hosts=${hosts}`, '--local-ttl=30', '--pid-file=', '--user=root',
    '--conf-file=/dev/null', '--log-facility=-', '--dns-forward-max=1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(dnsmasq, /read .*hosts - \d+ names/, 'dnsmasq');
  const runs: Run[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      for (const mode of ['udp', 'tcp'] as const) {
        for (const server of (r % 2 ? ['muster', 'dnsmasq'] : ['dnsmasq', 'muster']) as Run['server'][]) {
          const res = dnsperf(server === 'muster' ? musterPort : dnsmasqPort, queries, mode, seconds, clients);
          runs.push({ server, ...res });
          log(`round ${r} ${mode} ${server.padEnd(7)} ${res.qps.toFixed(0).padStart(7)} q/s  avg ${res.avgLatencyMs.toFixed(2)} ms  lost ${res.lost}/${res.sent}`);
        }
      }
    }
  } finally {
    muster.kill('SIGTERM');
    dnsmasq.kill('SIGTERM');
  }
  const summary = (['udp', 'tcp'] as const).map((mode) => {
    const of = (server: Run['server']) => runs.filter((x) => x.server === server && x.mode === mode);
    const m = { qps: median(of('muster').map((x) => x.qps))!, lat: median(of('muster').map((x) => x.avgLatencyMs))! };
    const d = { qps: median(of('dnsmasq').map((x) => x.qps))!, lat: median(of('dnsmasq').map((x) => x.avgLatencyMs))! };
    const target = TARGETS[mode];
    return { mode, muster: m, dnsmasq: d, ratio: m.qps / d.qps, target, met: m.qps / d.qps >= target };
  });
  const version = execFileSync(DNSMASQ, ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const lines = [
    '',
    `${n} names, ${rounds} rounds of ${seconds} s per server and transport, ${clients} dnsperf clients; servers on CPU 0, dnsperf on CPU 1`,
    `machine: ${cpus().length} CPUs, ${cpus()[0]?.model ?? '?'}, Linux ${release()}; node ${process.version}; ${version}`,
    '',
    'transport  muster q/s (median)  avg latency  dnsmasq q/s (median)  avg latency  muster/dnsmasq  target',
    ...summary.map((s) => `${s.mode.padEnd(9)}  ${s.muster.qps.toFixed(0).padStart(19)}  ${(s.muster.lat.toFixed(2) + ' ms').padStart(11)}  ${s.dnsmasq.qps.toFixed(0).padStart(20)}  ${(s.dnsmasq.lat.toFixed(2) + ' ms').padStart(11)}  ${s.ratio.toFixed(2).padStart(14)}  >= ${s.target}: ${s.met ? 'met' : 'MISSED'}`),
    '',
  ];
  process.stderr.write(lines.join('\n'));
  if (values.json) process.stdout.write(JSON.stringify({ names: n, rounds, seconds, clients, runs, summary }, null, 2) + '\n');
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : `${err.stack}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
