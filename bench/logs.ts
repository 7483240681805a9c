/**
 * Logs: what one agent ships at a tenth of a core, and what one hub core
 * takes from 100 agents while it pushes to Loki.
 *
 * agent  A hub on CPU 0 and the bundled agent on CPU 1, and a container (on
 *        CPU 0, beside the hub) printing numbered access-log lines of about
 *        130 bytes at a set rate, in bursts every 100 ms. Per rate, after a
 *        warm-up, a window measures the agent's CPU (utime+stime of
 *        /proc/PID/stat, as % of one core) and the lines shipped: the number
 *        on the container's newest line at the hub, at the window's start and
 *        end. The agent runs with its per-source rate limit raised
 *        (--logs-rate), which would otherwise hold one container at 200
 *        lines/s.
 * hub    A hub on CPU 0 pushing to the strict Loki stand-in (bench/loki-
 *        receiver.ts, CPU 1), and 100 simulated agents (bench/ingest-
 *        simulator.ts, CPU 1) sending what real agents send (a sample and a
 *        workloads delta every 10 s) plus a logs batch every second. Per
 *        rate: lines acked (stored, durable) and pushed per second, the
 *        hub's CPU, and the p99 ack of the agents' samples.
 *
 * Targets (issue 17): the agent's lines per second at <= 10 % of a core; the
 * hub's lines per second from 100 agents on one core with the samples' p99
 * ack still < 50 ms.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countListFlag, durationFlag, parseFlags, UsageError } from './bench-args.ts';
import { machineInfo } from './host-info.ts';
import { createJoinToken, hubApi, ROOT, startBenchHub, type BenchHub } from './hub-process.ts';
import { clockTicksPerSecond, cpuSeconds, readProcCpu } from './proc-stats.ts';
import { channelTo } from './simulator-channel.ts';
import type { SimulatorCommand } from './ingest-messages.ts';
import { median, percentile } from './stats.ts';
import { runBench, type Supervisor } from './supervisor.ts';
import { fixed, formatTable } from './table.ts';
import { seconds, sleep, waitUntil } from './timing.ts';
import { BENCH_IMAGE } from './bench-workload.ts';

const USAGE = `Usage: node bench/logs.ts [--part agent|hub|both] [--rates LIST] [--agents N] [--agent-lines LIST] [--duration DUR] [--runs N] [--json]
       npm run bench:logs -- [flags]

  --part PART        agent, hub or both (default both)
  --rates LIST       agent part: lines per second the container prints (default 250,500,1000,2000,4000)
  --agents N         hub part: simulated agents (default 100)
  --agent-lines LIST hub part: lines per second each simulated agent sends (default 1,10,50,100,200: 1 is the baseline)
  --duration DUR     measurement window per step (default 30s)
  --runs N           repeat every step N times and report medians (default 1)
  --no-loki          hub part: no --loki, to tell the pushes' share of the hub's work
  --hub-node-flags S hub part: Node flags for the hub, space-separated (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  --json             a JSON summary on stdout (the tables go to stderr)

Needs Docker with ${BENCH_IMAGE} (install/test-host.sh), util-linux's taskset, and 2 CPUs.
`;

const HUB_CPU = 0;
const SIDE_CPU = 1;
const AGENT_TARGET_CPU = 10;
const HUB_TARGET_P99_MS = 50;
const SAMPLE_INTERVAL_MS = 10_000;
const PREFIX = 'muster-bench-logs-';
const SIMULATOR = fileURLToPath(new URL('./ingest-simulator.ts', import.meta.url));
const RECEIVER = fileURLToPath(new URL('./loki-receiver.ts', import.meta.url));

const docker = (args: string[], timeout = 60_000) => execFileSync('docker', args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

interface AgentStep { rate: number; label: string; shippedPerSecond: number; cpuPercent: number; systemPercent: number; cpuMsPer1kLines: number }
interface HubStep {
  agents: number; perAgent: number; offeredPerSecond: number; ackedPerSecond: number; pushedPerSecond: number; lokiTakenPerSecond: number;
  spooledAtEnd: number; lokiRefused: number; hubCpuPercent: number; sampleAckP50: number | undefined; sampleAckP99: number | undefined; linksClosed: number; met: boolean;
}

runBench(USAGE, async (sup) => {
  const { values } = parseFlags(process.argv.slice(2), {
    part: { type: 'string' }, rates: { type: 'string' }, agents: { type: 'string' }, 'agent-lines': { type: 'string' },
    duration: { type: 'string' }, runs: { type: 'string' }, 'no-loki': { type: 'boolean' }, 'hub-node-flags': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const part = values.part ?? 'both';
  if (!['agent', 'hub', 'both'].includes(part)) throw new UsageError(`--part is agent, hub or both, not ${part}`);
  const rates = countListFlag('rates', values.rates, '250,500,1000,2000,4000');
  const agents = countListFlag('agents', values.agents, '100')[0]!;
  const perAgent = countListFlag('agent-lines', values['agent-lines'], '1,10,50,100,200');
  const durationMs = durationFlag('duration', values.duration, '30s');
  const runs = countListFlag('runs', values.runs, '1')[0]!;
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const machine = machineInfo();
  if (spawnSync('taskset', ['--version']).status !== 0) throw new Error('taskset is missing: apt-get install -y util-linux');
  if (machine.cpus < 2) throw new Error(`this bench pins the hub and the rest to separate CPUs; this machine has ${machine.cpus}`);
  const ticks = clockTicksPerSecond();
  const out: string[] = [''];
  const json: Record<string, unknown> = { bench: 'logs', machine, windowSeconds: durationMs / 1000, runs };

  if (part !== 'hub') {
    // A container left by an interrupted run would print on through this one, and the agent would read it.
    const leftovers = docker(['ps', '-aq', '--filter', `name=^${PREFIX}`]).split('\n').filter(Boolean);
    if (leftovers.length) docker(['rm', '-f', ...leftovers]);
    log('building the agent bundle (node install/build-agent.ts)');
    execFileSync(process.execPath, [join(ROOT, 'install/build-agent.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const steps: AgentStep[] = [];
    const baselines: AgentStep[] = [];
    // Baselines: the same agent and a container that prints nothing, without and with log collection.
    for (const [rate, logs] of [[0, false], [0, true], ...rates.map((r) => [r, true] as const)] as const) {
      const tries: AgentStep[] = [];
      for (let k = 0; k < runs; k++) {
        log(`\n== agent: a container printing ${rate} lines/s${logs ? '' : ', agent --no-logs'}, window ${seconds(durationMs)} (run ${k + 1}/${runs})`);
        const r = await agentStep(sup, rate, logs, durationMs, ticks, log);
        log(`   ${fixed(r.shippedPerSecond, 0)} lines/s shipped, agent CPU ${fixed(r.cpuPercent, 2)} % (system ${fixed(r.systemPercent, 2)} %)`);
        tries.push(r);
      }
      (rate === 0 ? baselines : steps).push(medianOf(tries));
    }
    const within = steps.filter((s) => s.cpuPercent <= AGENT_TARGET_CPU);
    const best = within.length ? Math.max(...within.map((s) => s.shippedPerSecond)) : undefined;
    // CPU grows about linearly with the rate: where the line through the measured steps crosses 10 %.
    const fit = linearFit(steps.map((s) => [s.shippedPerSecond, s.cpuPercent]));
    const at10 = fit && fit.slope > 0 ? (AGENT_TARGET_CPU - fit.intercept) / fit.slope : undefined;
    out.push(formatTable(['asked/s', 'shipped lines/s', 'agent CPU', 'of it system', 'CPU per 1k lines/s', `<= ${AGENT_TARGET_CPU} %`],
      [...baselines, ...steps].map((s) => [s.label, fixed(s.shippedPerSecond, 0), fixed(s.cpuPercent, 2, ' %'), fixed(s.systemPercent, 2, ' %'), fixed(s.cpuMsPer1kLines, 1, ' ms/s'), s.cpuPercent <= AGENT_TARGET_CPU ? 'yes' : 'no'])));
    out.push(`agent: dist/muster-agent.js on ${process.version}, --interval 10s --logs-rate 1000000; one container, lines of ~130 bytes; CPU is utime+stime of the agent process as % of one core (medians of ${runs} run(s))`);
    out.push(`agent at <= ${AGENT_TARGET_CPU} % of a core: ${best === undefined ? 'no measured rate' : `${best.toFixed(0)} lines/s measured`}${at10 ? `, ${at10.toFixed(0)} lines/s where CPU reaches ${AGENT_TARGET_CPU} % (linear fit: ${fit!.intercept.toFixed(2)} % + ${(fit!.slope * 1000).toFixed(2)} % per 1,000 lines/s)` : ''}`);
    out.push('');
    json['agent'] = { baselines, steps, bestWithinTarget: best, linesPerSecondAtTarget: at10 };
  }

  if (part !== 'agent') {
    const steps: HubStep[] = [];
    for (const lines of perAgent) {
      const tries: HubStep[] = [];
      for (let k = 0; k < runs; k++) {
        log(`\n== hub: ${agents} agents x ${lines} lines/s, window ${seconds(durationMs)} (run ${k + 1}/${runs})`);
        const r = await hubStep(sup, agents, lines, durationMs, ticks, log, values['no-loki'] !== true, values['hub-node-flags']?.split(' ').filter(Boolean) ?? []);
        log(`   ${fixed(r.ackedPerSecond, 0)} lines/s acked, ${fixed(r.pushedPerSecond, 0)} pushed, hub CPU ${fixed(r.hubCpuPercent, 1)} %, sample ack p99 ${fixed(r.sampleAckP99, 1)} ms`);
        tries.push(r);
      }
      steps.push(medianHub(tries));
    }
    out.push(formatTable(['agents', 'lines/s each', 'offered/s', 'acked/s', 'pushed/s', 'Loki took/s', 'spool at end', 'refused', 'hub CPU', 'sample ack p50', 'p99', 'target'],
      steps.map((s) => [String(s.agents), String(s.perAgent), fixed(s.offeredPerSecond, 0), fixed(s.ackedPerSecond, 0), fixed(s.pushedPerSecond, 0), fixed(s.lokiTakenPerSecond, 0),
        String(s.spooledAtEnd), String(s.lokiRefused), fixed(s.hubCpuPercent, 1, ' %'), fixed(s.sampleAckP50, 1, ' ms'), fixed(s.sampleAckP99, 1, ' ms'), s.met ? 'met' : 'MISSED'])));
    const best = steps.filter((s) => s.met).map((s) => s.ackedPerSecond);
    out.push(`hub: on CPU ${HUB_CPU} with --loki (protobuf+snappy) to the strict stand-in on CPU ${SIDE_CPU}; agents simulated on CPU ${SIDE_CPU}: a sample and a workloads delta every 10 s, a logs batch every second (3 containers and a unit, lines of 80-200 bytes)`);
    out.push(`target met = every line acked and pushed (spool drained within 5 s of the window), none refused, hub under one core, sample ack p99 < ${HUB_TARGET_P99_MS} ms; best: ${best.length ? `${Math.max(...best).toFixed(0)} lines/s` : 'none'}`);
    out.push('');
    json['hub'] = { steps };
  }
  out.push(`machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Linux ${machine.kernel}`, '');
  if (values.json) {
    process.stderr.write(out.join('\n'));
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else {
    process.stdout.write(out.join('\n'));
  }
  return 0;
});

/** One rate of the agent part: fresh hub, agent and container. */
async function agentStep(sup: Supervisor, rate: number, logs: boolean, durationMs: number, ticks: number, log: (s: string) => void): Promise<AgentStep> {
  const container = `${PREFIX}${rate}-${process.pid}`;
  try { docker(['rm', '-f', container]); } catch { /* not there */ }
  const hub = await startBenchHub(sup, { cpu: HUB_CPU, hubArgs: ['--dns-listen', 'off'] });
  const name = `bench-logs-${rate}`;
  const agent = sup.start(name, process.execPath, [join(ROOT, 'dist/muster-agent.js'), '--hub', hub.url, '--ca-file', hub.caFile, '--join', await createJoinToken(hub),
    '--name', name, '--state', sup.tempDir('agent'), '--interval', '10s', ...(logs ? ['--logs-rate', '1000000', '--logs-rate-bytes', '1G'] : ['--no-logs'])], { cpu: SIDE_CPU });
  try {
    await waitUntil('the agent online', async () => (await hubApi<{ online?: boolean }>(hub, `/api/v1/nodes/${name}`)).body.online, 30_000, 250);
    const burst = Math.max(1, Math.round(rate / 10));
    const pad = 'Mozilla/5.0 (X11; Linux x86_64) rt=0.004';
    docker(['run', '-d', '--name', container, '--cpuset-cpus', String(HUB_CPU), '-l', 'muster.bench=1', BENCH_IMAGE, 'sh', '-c', rate === 0 ? 'sleep 3600' :
      `i=0; while :; do j=0; while [ $j -lt ${burst} ]; do i=$((i+1)); echo "$i 10.0.0.7 - - \\"GET /api/v1/items/$i?page=$j HTTP/1.1\\" 200 5123 \\"-\\" \\"${pad}\\""; j=$((j+1)); done; sleep 0.1; done`]);
    const newest = async (): Promise<number> => {
      const r = await hubApi<{ lines?: { line: string }[] }>(hub, `/api/v1/logs?node=${name}&container=${container}&limit=1`);
      return Number(/^(\d+) /.exec(r.body.lines?.[0]?.line ?? '')?.[1] ?? 0);
    };
    if (rate > 0) await waitUntil('the first lines at the hub', async () => (await newest()) > 0, 30_000, 250);
    await sleep(5_000);
    const n0 = rate > 0 ? await newest() : 0;
    const c0 = readProcCpu(agent.pid);
    const t0 = performance.now();
    await sleep(durationMs);
    const c1 = readProcCpu(agent.pid);
    const t1 = performance.now();
    const n1 = rate > 0 ? await newest() : 0;
    if (!agent.running()) throw new Error(`the agent exited:\n${agent.output()}`);
    const windowS = (t1 - t0) / 1000;
    const cpuPercent = ((cpuSeconds(c1, ticks, false) - cpuSeconds(c0, ticks, false)) / windowS) * 100;
    const systemPercent = ((c1.stime - c0.stime) / ticks / windowS) * 100;
    const shippedPerSecond = (n1 - n0) / windowS;
    const label = rate === 0 ? `silent container, ${logs ? 'logs on' : '--no-logs'}` : String(rate);
    if (shippedPerSecond < rate * 0.5) log(`   note: the container printed well under the asked rate (${shippedPerSecond.toFixed(0)}/s), or the agent fell behind`);
    return { rate, label, shippedPerSecond, cpuPercent, systemPercent, cpuMsPer1kLines: shippedPerSecond > 0 ? (cpuPercent * 10) / (shippedPerSecond / 1000) : 0 };
  } finally {
    try { docker(['rm', '-f', container]); } catch { /* gone */ }
    await agent.stop();
    await hub.proc.stop();
  }
}

/** A counter or gauge of the hub's own /metrics/hub, summed over its series. */
async function hubCounter(hub: BenchHub, name: string): Promise<number> {
  const res = await hub.fetch(`${hub.url}/metrics/hub`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    const m = /^(\S+?)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}

/** One rate of the hub part: fresh stand-in, hub and simulator. */
async function hubStep(sup: Supervisor, agents: number, perAgent: number, durationMs: number, ticks: number, log: (s: string) => void, withLoki: boolean, nodeFlags: string[]): Promise<HubStep> {
  const receiver = sup.start('loki-stand-in', process.execPath, [RECEIVER], { cpu: SIDE_CPU });
  const lokiUrl = await waitUntil('the Loki stand-in', () => /loki stand-in at (\S+)/.exec(receiver.output())?.[1], 15_000);
  const lokiArgs = withLoki ? ['--loki', lokiUrl] : [];
  const taken = () => Number([...receiver.output().matchAll(/taken (\d+) refused (\d+)/g)].at(-1)?.[1] ?? 0);
  const refused = () => Number([...receiver.output().matchAll(/taken (\d+) refused (\d+)/g)].at(-1)?.[2] ?? 0);
  const hub = await startBenchHub(sup, { cpu: HUB_CPU, nodeFlags, hubArgs: ['--dns-listen', 'off', ...lokiArgs] });
  const sim = sup.start('simulator', process.execPath, [SIMULATOR], { cpu: SIDE_CPU, ipc: true });
  const ask = channelTo(sim);
  try {
    const token = await createJoinToken(hub);
    const joined = await ask({ type: 'join', url: hub.url, caFile: hub.caFile, token, agents, intervalMs: SAMPLE_INTERVAL_MS, concurrency: 50, deflate: true, workloads: true, logLinesPerSecond: perAgent }, 'joined', 120_000);
    log(`   ${joined.agents} agents joined in ${seconds(joined.ms)}`);
    await ask({ type: 'start' }, 'started', 10_000);
    await sleep(SAMPLE_INTERVAL_MS);
    const pushed0 = await hubCounter(hub, 'muster_logs_pushed_lines_total');
    const taken0 = taken();
    const c0 = readProcCpu(hub.proc.pid);
    const r0 = readProcCpu(receiver.pid);
    const s0 = readProcCpu(sim.pid);
    await ask({ type: 'measure' }, 'measuring', 10_000);
    const t0 = performance.now();
    await sleep(durationMs);
    const c1 = readProcCpu(hub.proc.pid);
    const r1 = readProcCpu(receiver.pid);
    const s1 = readProcCpu(sim.pid);
    const windowS = (performance.now() - t0) / 1000;
    // The stand-in and the simulated agents share CPU 1: if they ran short of it, the acks would be late on their side.
    log(`   Loki stand-in CPU ${fixed(((cpuSeconds(r1, ticks, false) - cpuSeconds(r0, ticks, false)) / windowS) * 100, 1)} %, simulator CPU ${fixed(((cpuSeconds(s1, ticks, false) - cpuSeconds(s0, ticks, false)) / windowS) * 100, 1)} %`);
    const pushed1 = await hubCounter(hub, 'muster_logs_pushed_lines_total');
    const taken1 = taken();
    const { report } = await ask({ type: 'report' }, 'report', 30_000);
    // What the window stored, Loki should have within a few seconds: the pusher batches by the second.
    await sleep(5_000);
    const spooled = await hubCounter(hub, 'muster_logs_spooled_lines');
    const acks = report.acks.map(([, ms]) => ms);
    const hubCpuPercent = ((cpuSeconds(c1, ticks, false) - cpuSeconds(c0, ticks, false)) / windowS) * 100;
    const p99 = percentile(acks, 0.99);
    const step: HubStep = {
      agents, perAgent, offeredPerSecond: report.logLinesSent / windowS, ackedPerSecond: report.logLinesAcked / windowS,
      pushedPerSecond: (pushed1 - pushed0) / windowS, lokiTakenPerSecond: (taken1 - taken0) / windowS, spooledAtEnd: spooled, lokiRefused: refused(),
      hubCpuPercent, sampleAckP50: percentile(acks, 0.5), sampleAckP99: p99, linksClosed: report.linksClosed,
      met: p99 !== undefined && p99 < HUB_TARGET_P99_MS && hubCpuPercent < 100 && report.logLinesAcked === report.logLinesSent && report.acked === report.sent
        && (!withLoki || spooled < perAgent * agents) && refused() === 0 && report.linksClosed === 0,
    };
    return step;
  } finally {
    if (sim.running() && sim.child.connected) sim.child.send({ type: 'stop' } satisfies SimulatorCommand);
    await Promise.race([sim.exited, sleep(5_000)]);
    await sim.stop();
    await hub.proc.stop();
    await receiver.stop();
  }
}

/** The step whose CPU is the median of the runs (its other figures with it). */
function medianOf(tries: AgentStep[]): AgentStep {
  const m = median(tries.map((t) => t.cpuPercent))!;
  return tries.reduce((a, b) => (Math.abs(b.cpuPercent - m) < Math.abs(a.cpuPercent - m) ? b : a));
}

/** The run whose sample ack p99 is the median of the runs. */
function medianHub(tries: HubStep[]): HubStep {
  const m = median(tries.map((t) => t.sampleAckP99 ?? Infinity))!;
  return tries.reduce((a, b) => (Math.abs((b.sampleAckP99 ?? Infinity) - m) < Math.abs((a.sampleAckP99 ?? Infinity) - m) ? b : a));
}

/** Least squares line through [x, y] points. */
function linearFit(points: [number, number][]): { slope: number; intercept: number } | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}
