/**
 * Hub ingest under N simulated agents over real WebSockets. For each N: a
 * fresh hub pinned to CPU 0 (`taskset -c 0`), a simulator process pinned to
 * CPU 1 (bench/ingest-simulator.ts) whose agents join with one shared join
 * token and send what the real agent sends: facts and a workloads snapshot
 * on joining, then every interval a realistic sample and a workloads delta,
 * starts spread evenly over the interval. After a warm-up of one interval the
 * window measures:
 *   hub CPU   utime+stime of /proc/PID/stat over the window, as % of one core
 *   runq wait time the hub's main thread waited for its core (/proc/PID/schedstat): noise on CPU 0
 *   hub RSS   VmRSS every 5 s: median and max
 *   samples/s samples acked during the window per second
 *   ack       p50/p99/max of send-to-ack latency, as the agents see it, over the
 *             whole window and per interval (every agent sends once per interval):
 *             the median of the per-interval p99s shrugs off one noisy spell
 *
 * Target: 2,000 agents on one hub core with p99 ack under 50 ms.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { countListFlag, durationFlag, parseFlags, UsageError } from './bench-args.ts';
import { machineInfo, openFilesLimit } from './host-info.ts';
import { createJoinToken, startBenchHub, type BenchHub } from './hub-process.ts';
import type { SimulatorCommand, SimulatorReport } from './ingest-messages.ts';
import { channelTo } from './simulator-channel.ts';
import { clockTicksPerSecond, cpuSeconds, readProcCpu, readProcIo, readProcMemory, readProcSchedstat } from './proc-stats.ts';
import { maximum, median, percentile } from './stats.ts';
import { runBench, type Supervisor } from './supervisor.ts';
import { fixed, formatTable, mib } from './table.ts';
import { seconds, sleep, sleepUntil } from './timing.ts';

const USAGE = `Usage: node bench/hub-ingest.ts [--agents 100,500,1000,2000] [--interval 10s] [--duration 60s] [--no-deflate] [--no-workloads] [--hub-flag FLAG]... [--json]
       npm run bench:ingest -- [flags]

Runs a hub pinned to CPU 0 and N simulated agents pinned to CPU 1 for each N,
and measures the hub's CPU and RSS, samples/s and the agents' ack latency.

  --agents LIST    simulated agent counts, comma-separated (default 100,500,1000,2000)
  --interval DUR   sample period of each agent (default 10s)
  --duration DUR   measurement window per N, after one interval of warm-up (default 60s)
  --no-deflate     agents send every frame as text (the real agent deflates frames above 1 KiB)
  --no-workloads   agents send samples only, no workloads snapshot and deltas (the real agent sends both)
  --hub-flag FLAG  a Node/V8 flag for the hub's runtime, repeatable (e.g. --hub-flag=--max-semi-space-size=4)
  --json           print a JSON summary on stdout (the table goes to stderr)

Needs util-linux's taskset, 2 CPUs, and an open-files limit above N + 1024
(the bench raises the soft limit up to the hard one itself; check with ulimit -n / ulimit -Hn).
`;

const HUB_CPU = 0;
const SIM_CPU = 1;
const RSS_EVERY_MS = 5_000;
const JOIN_CONCURRENCY = 50;
const TARGET_AGENTS = 2000;
const TARGET_P99_MS = 50;
const SIMULATOR = fileURLToPath(new URL('./ingest-simulator.ts', import.meta.url));

/** Ack latencies, ms. */
interface AckSummary {
  p50: number | undefined;
  p99: number | undefined;
  max: number | undefined;
  mean: number | undefined;
  /** p99 of each interval of the window, in order; their median and the worst. */
  p99PerInterval: number[];
  p99IntervalMedian: number | undefined;
  p99IntervalWorst: number | undefined;
}

/** What one N measured. */
interface IngestResult {
  agents: number;
  joinSeconds: number;
  windowSeconds: number;
  samplesPerSecond: number;
  hubCpuPercent: number;
  /** Milliseconds per second the hub's main thread was runnable but not running. */
  hubRunqWaitMsPerSecond: number;
  hubRssMedianBytes: number | undefined;
  hubRssMaxBytes: number | undefined;
  /** Bytes the hub caused to be written to storage (/proc/PID/io write_bytes), per second and per sample. */
  hubDiskWriteBytesPerSecond: number;
  hubDiskWriteBytesPerSample: number | undefined;
  simulatorCpuPercent: number;
  /** Send-to-ack latency over the window, and the p99 of each interval of it. */
  ackMs: AckSummary;
  sim: Omit<SimulatorReport, 'acks'>;
  /** Links the hub reported live at the end (GET /healthz). */
  hubAgentsConnected: number | undefined;
  /** From the hub's own /metrics over the window: event-loop delay, GC pauses by kind, group commits. */
  hubRuntime: HubRuntime;
  /** p99 ack under the target, every sample of the window acked, no link lost, the hub under one core. */
  targetMet: boolean;
}

runBench(USAGE, async (sup) => {
  const { values } = parseFlags(process.argv.slice(2), {
    agents: { type: 'string' }, interval: { type: 'string' }, duration: { type: 'string' }, 'no-deflate': { type: 'boolean' }, 'no-workloads': { type: 'boolean' }, 'hub-flag': { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const counts = countListFlag('agents', values.agents, '100,500,1000,2000');
  const intervalMs = durationFlag('interval', values.interval, '10s');
  const durationMs = durationFlag('duration', values.duration, '60s');
  const deflate = values['no-deflate'] !== true;
  const workloads = values['no-workloads'] !== true;
  const hubFlags = values['hub-flag'] ?? [];
  if (intervalMs < 1_000) throw new UsageError('--interval must be at least 1s (the agent allows no less)');
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const machine = machineInfo();
  if (spawnSync('taskset', ['--version']).status !== 0) throw new Error('taskset is missing: apt-get install -y util-linux');
  if (machine.cpus < 2) throw new Error(`this bench pins the hub and the simulated agents to separate CPUs; this machine has ${machine.cpus}`);
  const openFiles = fdLimitFor(Math.max(...counts));
  const ticks = clockTicksPerSecond();

  const results: IngestResult[] = [];
  for (const n of counts) {
    log(`\n== ${n} agents: interval ${seconds(intervalMs)}, warm-up ${seconds(intervalMs)}, window ${seconds(durationMs)}`);
    results.push(await runOne(sup, n, { intervalMs, durationMs, deflate, workloads, hubFlags, openFiles, ticks, log }));
    const r = results[results.length - 1]!;
    log(`   ${fixed(r.samplesPerSecond, 1)} samples/s, hub CPU ${fixed(r.hubCpuPercent, 1)} %, p99 ack ${fixed(r.ackMs.p99, 1)} ms (per interval: ${r.ackMs.p99PerInterval.map((x) => x.toFixed(0)).join(', ')} ms)`);
    const rt = r.hubRuntime;
    log(`   hub event loop delay p99 ${fixed(rt.loopDelayP99Ms, 1)} ms, max ${fixed(rt.loopDelayMaxMs, 1)} ms; GC ms/s ${Object.entries(rt.gcMsPerSecond).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}; ` +
      `longest GC ${Object.entries(rt.gcLongestMs).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}; ${fixed(rt.commitsPerSecond, 1)} commits/s of ${fixed(rt.commitMeanMs, 2)} ms, ${rt.commitsOver10ms ?? '?'} over 10 ms, ${rt.commitsOver50ms ?? '?'} over 50 ms`);
  }

  const targetMet = results.find((r) => r.agents === TARGET_AGENTS)?.targetMet;
  const table = formatTable(
    ['agents', 'samples/s', 'hub CPU', 'runq wait', 'hub RSS', 'ack p50', 'ack p99', 'p99 med/worst interval', 'ack max', 'sim loop p99', 'unacked', 'closed', 'disk w/sample', `p99 < ${TARGET_P99_MS} ms`],
    results.map((r) => [
      String(r.agents), fixed(r.samplesPerSecond, 1), fixed(r.hubCpuPercent, 1, ' %'), fixed(r.hubRunqWaitMsPerSecond, 1, ' ms/s'), mib(r.hubRssMedianBytes),
      fixed(r.ackMs.p50, 1, ' ms'), fixed(r.ackMs.p99, 1, ' ms'), `${fixed(r.ackMs.p99IntervalMedian, 1)} / ${fixed(r.ackMs.p99IntervalWorst, 1, ' ms')}`,
      fixed(r.ackMs.max, 1, ' ms'), fixed(r.sim.loopDelayP99Ms, 1, ' ms'),
      String(r.sim.sent - r.sim.acked), String(r.sim.linksClosed), fixed(r.hubDiskWriteBytesPerSample === undefined ? undefined : r.hubDiskWriteBytesPerSample / 1024, 1, ' KiB'),
      r.targetMet ? 'pass' : 'FAIL',
    ]),
  );
  const verdict = targetMet === undefined ? `not measured (no run with ${TARGET_AGENTS} agents)` : targetMet ? 'met' : 'MISSED';
  const report = [
    '',
    table,
    `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Linux ${machine.kernel}; hub on CPU ${HUB_CPU}${hubFlags.length ? ` (node ${hubFlags.join(" ")})` : ""}, simulated agents on CPU ${SIM_CPU}`,
    `each agent: one samples frame every ${seconds(intervalMs)} (mean ${results[0]?.sim.meanFrameBytes ?? 0} B) ` +
      (workloads ? `and a workloads delta (mean ${results[0]?.sim.meanWorkloadsBytes ?? 0} B), a workloads snapshot after joining` : 'and NO workloads frames') +
      `, heartbeats as the welcome asks; frames above 1 KiB ${deflate ? 'deflated, as the real agent does' : 'NOT deflated'}`,
    `hub CPU is % of one core (utime+stime over the window); runq wait = ms per s the hub's main thread waited for CPU ${HUB_CPU} (its own helper threads and anything else there);`,
    `ack p99 is over the window; p99 med/worst interval = median and worst of the p99s of each ${seconds(intervalMs)} interval;`,
    `hub RSS = median; sim loop p99 = the simulator's own event-loop lateness (its share of the ack latency);`,
    `unacked = window samples without an ack 5 s after the window; disk w/sample = the hub's write_bytes (/proc/PID/io) / samples acked`,
    `target: ${TARGET_AGENTS} agents on one hub core with p99 ack < ${TARGET_P99_MS} ms: ${verdict}`,
    '',
  ].join('\n');
  if (values.json) {
    process.stderr.write(report);
    process.stdout.write(JSON.stringify({
      bench: 'hub-ingest',
      machine,
      intervalSeconds: intervalMs / 1000,
      deflate,
      workloads,
      windowSeconds: durationMs / 1000,
      results,
      target: { agents: TARGET_AGENTS, p99Ms: TARGET_P99_MS, met: targetMet },
    }, null, 2) + '\n');
  } else {
    process.stdout.write(report);
  }
  return 0;
});

/**
 * The open-files limit the hub and the simulator need for `agents` links
 * (one socket each, plus files, pipes and sqlite), or undefined when the
 * inherited soft limit is enough already. Throws when the hard limit is too low.
 */
function fdLimitFor(agents: number): number | undefined {
  const need = agents + 1024;
  const { soft, hard } = openFilesLimit();
  if (soft >= need) return undefined;
  if (hard < need) throw new Error(`${agents} agents need about ${need} open files, but the hard limit is ${hard}: raise it (ulimit -Hn, or LimitNOFILE in systemd) and run again`);
  return need;
}

interface RunOptions {
  intervalMs: number;
  deflate: boolean;
  workloads: boolean;
  hubFlags: string[];
  durationMs: number;
  openFiles: number | undefined;
  ticks: number;
  log: (s: string) => void;
}

/** One N: fresh hub, fresh simulator, join, warm up, measure, stop both. */
async function runOne(sup: Supervisor, agents: number, o: RunOptions): Promise<IngestResult> {
  const pin = (cpu: number) => (o.openFiles === undefined ? { cpu } : { cpu, openFiles: o.openFiles });
  const hub = await startBenchHub(sup, { ...pin(HUB_CPU), nodeFlags: o.hubFlags });
  const token = await createJoinToken(hub);
  const sim = sup.start('simulator', process.execPath, [SIMULATOR], { ...pin(SIM_CPU), ipc: true });
  const ask = channelTo(sim);
  try {
    const joined = await ask({ type: 'join', url: hub.url, caFile: hub.caFile, token, agents, intervalMs: o.intervalMs, concurrency: JOIN_CONCURRENCY, deflate: o.deflate, workloads: o.workloads }, 'joined', 60_000 + agents * 100);
    o.log(`   ${joined.agents} agents joined in ${seconds(joined.ms)}`);
    await ask({ type: 'start' }, 'started', 10_000);
    await sleep(o.intervalMs); // warm-up: every agent has sent its first sample

    const runtimeBefore = await hubSeries(hub);
    const hubBefore = readProcCpu(hub.proc.pid);
    const schedBefore = readProcSchedstat(hub.proc.pid);
    const ioBefore = readProcIo(hub.proc.pid);
    const simBefore = readProcCpu(sim.pid);
    await ask({ type: 'measure' }, 'measuring', 10_000);
    const tStart = performance.now();
    const rss: number[] = [];
    for (let k = 0; k * RSS_EVERY_MS <= o.durationMs; k++) {
      await sleepUntil(tStart + k * RSS_EVERY_MS);
      if (!hub.proc.running()) throw new Error(`the hub exited during the window:\n${hub.proc.output()}`);
      rss.push(readProcMemory(hub.proc.pid).rssBytes);
    }
    await sleepUntil(tStart + o.durationMs);
    const hubAfter = readProcCpu(hub.proc.pid);
    const schedAfter = readProcSchedstat(hub.proc.pid);
    const ioAfter = readProcIo(hub.proc.pid);
    const simAfter = readProcCpu(sim.pid);
    const windowS = (performance.now() - tStart) / 1000;
    const runtimeAfter = await hubSeries(hub);
    const { report: { acks, ...report } } = await ask({ type: 'report' }, 'report', 30_000);
    const ackMs = summarizeAcks(acks, o.intervalMs);
    const pct = (a: typeof hubAfter, b: typeof hubBefore) => ((cpuSeconds(a, o.ticks, false) - cpuSeconds(b, o.ticks, false)) / windowS) * 100;
    const hubCpuPercent = pct(hubAfter, hubBefore);
    const p99 = ackMs.p99;
    return {
      agents,
      joinSeconds: joined.ms / 1000,
      windowSeconds: Math.round(windowS * 1000) / 1000,
      samplesPerSecond: report.acked / windowS,
      hubCpuPercent,
      hubRunqWaitMsPerSecond: (schedAfter.waitNs - schedBefore.waitNs) / 1e6 / windowS,
      hubRssMedianBytes: median(rss),
      hubRssMaxBytes: maximum(rss),
      hubDiskWriteBytesPerSecond: (ioAfter.writeBytes - ioBefore.writeBytes) / windowS,
      hubDiskWriteBytesPerSample: report.acked > 0 ? (ioAfter.writeBytes - ioBefore.writeBytes) / report.acked : undefined,
      simulatorCpuPercent: pct(simAfter, simBefore),
      ackMs,
      sim: report,
      hubAgentsConnected: await agentsConnected(hub),
      hubRuntime: runtimeOver(runtimeBefore, runtimeAfter, windowS),
      targetMet: p99 !== undefined && p99 < TARGET_P99_MS && hubCpuPercent < 100 && report.acked === report.sent && report.linksClosed === 0,
    };
  } finally {
    if (sim.running() && sim.child.connected) sim.child.send({ type: 'stop' } satisfies SimulatorCommand);
    await Promise.race([sim.exited, sleep(5_000)]);
    await sim.stop();
    await hub.proc.stop();
  }
}

/** Latency percentiles over all acks, and the p99 of each interval by send time. */
function summarizeAcks(acks: readonly [number, number][], intervalMs: number): AckSummary {
  const all = acks.map(([, ms]) => ms);
  const byInterval: number[][] = [];
  for (const [at, ms] of acks) (byInterval[Math.floor(at / intervalMs)] ??= []).push(ms);
  // A last interval cut short by the window's end holds a few stragglers, too few for a p99.
  const sizes = byInterval.map((l) => l?.length ?? 0);
  const typical = median(sizes) ?? 0;
  const full = byInterval.filter((l) => l && l.length >= typical / 2);
  const p99PerInterval = full.map((l) => percentile(l, 0.99)!);
  return {
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    max: maximum(all),
    mean: all.length ? all.reduce((x, y) => x + y, 0) / all.length : undefined,
    p99PerInterval,
    p99IntervalMedian: median(p99PerInterval),
    p99IntervalWorst: maximum(p99PerInterval),
  };
}

/** What the hub's own series said over a window. */
interface HubRuntime {
  /** Event-loop delay over the last minute (the hub's rolling window), ms. */
  loopDelayP99Ms: number | undefined;
  loopDelayMaxMs: number | undefined;
  /** Milliseconds of GC per second of window, by kind, and the longest pause since start, ms. */
  gcMsPerSecond: Record<string, number>;
  gcLongestMs: Record<string, number>;
  /** Group commits per second and their mean duration, ms. */
  commitsPerSecond: number | undefined;
  commitMeanMs: number | undefined;
  /** Commits of the window that took longer than 10 and 50 ms. */
  commitsOver10ms: number | undefined;
  commitsOver50ms: number | undefined;
}

/** The hub's own series (muster_hub_*) from /metrics, by name and label text. */
async function hubSeries(hub: BenchHub): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  // /metrics/hub, not /metrics: a scrape of every node turns on their prerendering, which this bench does not measure.
  const res = await hub.fetch(`${hub.url}/metrics/hub`, { headers: { authorization: `Bearer ${hub.adminToken}` } }).catch(() => undefined);
  if (!res?.ok) return out;
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('muster_hub_')) continue;
    const m = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

function runtimeOver(before: Map<string, number>, after: Map<string, number>, windowS: number): HubRuntime {
  const diff = (k: string) => (after.has(k) ? after.get(k)! - (before.get(k) ?? 0) : undefined);
  const gcMsPerSecond: Record<string, number> = {};
  const gcLongestMs: Record<string, number> = {};
  for (const [k, v] of after) {
    const pause = /^muster_hub_gc_pause_seconds_total\{kind="(\w+)"\}$/.exec(k);
    if (pause) gcMsPerSecond[pause[1]!] = ((v - (before.get(k) ?? 0)) * 1000) / windowS;
    const longest = /^muster_hub_gc_longest_pause_seconds\{kind="(\w+)"\}$/.exec(k);
    if (longest) gcLongestMs[longest[1]!] = v * 1000;
  }
  const commits = diff('muster_hub_commits_total');
  const commitSeconds = diff('muster_hub_commit_seconds_total');
  const ms = (k: string) => (after.has(k) ? after.get(k)! * 1000 : undefined);
  const over = (le: string) => {
    const n = diff('muster_hub_commit_duration_seconds_count');
    const under = diff(`muster_hub_commit_duration_seconds_bucket{le="${le}"}`);
    return n === undefined || under === undefined ? undefined : n - under;
  };
  return {
    loopDelayP99Ms: ms('muster_hub_event_loop_delay_p99_seconds'),
    loopDelayMaxMs: ms('muster_hub_event_loop_delay_max_seconds'),
    gcMsPerSecond,
    gcLongestMs,
    commitsPerSecond: commits === undefined ? undefined : commits / windowS,
    commitMeanMs: commits && commitSeconds !== undefined ? (commitSeconds * 1000) / commits : undefined,
    commitsOver10ms: over('0.01'),
    commitsOver50ms: over('0.05'),
  };
}

/** GET /healthz: how many agent links the hub holds. */
async function agentsConnected(hub: BenchHub): Promise<number | undefined> {
  const res = await hub.fetch(`${hub.url}/healthz`).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = (await res.json()) as { agentsConnected?: number };
  return body.agentsConnected;
}
