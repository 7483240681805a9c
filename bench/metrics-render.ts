/**
 * Time to render the hub's /metrics, and its size, for a simulated fleet:
 * N nodes (default 1,000) with M running containers each (default 20), each
 * node with 4 CPUs, 3 filesystems, 3 interfaces, 200 processes (40 programs)
 * and 30 units (flags change these),
 * all held in a real store and inventory. Between renders every node gets a
 * new sample, new container use and one busy process, and one node in a
 * hundred a new process, as between two scrapes of a live fleet. Rendering is
 * single-threaded, so this is one core's work.
 *
 * The hub renders a node's series when its data arrives (hub/metrics:
 * nodeChanged, in slices off the scrape path), so a scrape mostly joins text
 * rendered already. Both are timed: the scrape, and the prerendering of
 * every node's new data between two scrapes (work spread over the interval).
 * --no-prerender measures a scrape that renders every node itself.
 *
 * Nodes are at node_exporter parity by default: each also ships the generic
 * families a muster agent sends (bench/parity-families.ts: ~800 series for
 * 8 CPUs, 4 disks, 6 filesystems, 4 interfaces), through the real metric
 * diff and the hub's AgentFamilies, as on the link; --no-parity leaves
 * them out (host series derived from samples, as protocol 2 agents have).
 *
 * Both ways Prometheus can scrape are timed: one /metrics with every node,
 * and every node alone (/metrics/nodes/NAME, one after another on the one
 * thread), per node and in total.
 *
 * Target (issue 5): under 250 ms per scrape at 1,000 nodes x 20 containers.
 */
import { Registry } from 'prom-client';
import { createStore, openDatabase } from '../hub/store.ts';
import { createWorkloadStore } from '../hub/workload-store.ts';
import { createInventory } from '../hub/inventory.ts';
import { createHubMetrics } from '../hub/metrics/metrics.ts';
import { createNodeServices } from '../hub/node-services.ts';
import { createAgentFamilies } from '../hub/metrics/agent-families.ts';
import { createMetricDiff, type MetricDiff } from '../agent/metric-diff.ts';
import { DEFAULT_PARITY_SHAPE, parityFamilies, type ParityShape } from './parity-families.ts';
import type { ContainerInfo, HostFacts, ProcessInfo, SampleData, UnitInfo } from '../protocol/index.ts';
import { parseFlags, UsageError } from './bench-args.ts';
import { median, percentile } from './stats.ts';

const USAGE = `Usage: node [--expose-gc] bench/metrics-render.ts [--nodes 1000] [--containers 20] [--processes 200] [--units 30] [--runs 15] [--cpus 8] [--no-parity] [--no-prerender] [--json]
       npm run bench:metrics -- [flags]
`;

const silent = { info() {}, warn() {}, error() {}, debug() {} };

function facts(i: number): HostFacts {
  return {
    hostname: `node-${i}`, machineId: `m${i}`, os: { id: 'debian', name: 'Debian GNU/Linux', version: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    kernel: '6.1.0-28-amd64', arch: 'amd64', platform: 'linux/amd64', cpu: { model: 'bench', cores: 4 }, memoryBytes: 8e9, swapBytes: 1e9,
    filesystems: [], addresses: [{ iface: 'eth0', family: 4, address: `10.1.${i >> 8}.${i & 255}`, internal: false }], bootTime: 1_700_000_000,
    rebootRequired: false, rebootRequiredPackages: [], agentVersion: '0.1.0', runtime: 'node v18.20.8', labels: { group: 'compute' }, unavailable: [],
  };
}

function sample(i: number): SampleData {
  return {
    cpu: Array.from({ length: 4 }, (_, c) => ({ cpu: String(c), user: 1000 + i, nice: 1, system: 300, idle: 90_000, iowait: 10, irq: 0, softirq: 5, steal: 0 })),
    load: [0.5, 0.4, 0.3],
    memory: { totalBytes: 8e9, availableBytes: 5e9, freeBytes: 3e9, buffersBytes: 1e8, cachedBytes: 2e9, swapTotalBytes: 1e9, swapFreeBytes: 1e9 },
    filesystems: ['/', '/boot', '/srv'].map((m) => ({ mountpoint: m, device: `/dev/sda${m.length}`, fstype: 'ext4', sizeBytes: 1e11, freeBytes: 5e10, availBytes: 4.5e10, files: 6e6, filesFree: 5e6 })),
    network: ['eth0', 'lo', 'docker0'].map((d) => ({ iface: d, rxBytes: 1e9, txBytes: 5e8, rxPackets: 1e6, txPackets: 8e5, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 })),
    temperatures: [], unavailable: [],
  };
}

async function main(): Promise<number> {
  const { values } = parseFlags(process.argv.slice(2), {
    nodes: { type: 'string' }, containers: { type: 'string' }, processes: { type: 'string' }, units: { type: 'string' }, runs: { type: 'string' },
    cpus: { type: 'string' }, 'no-parity': { type: 'boolean' }, 'no-prerender': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const nodes = Number(values.nodes ?? 1000);
  const perNode = Number(values.containers ?? 20);
  const runs = Number(values.runs ?? 15);
  const procCount = Number(values.processes ?? 200);
  const unitCount = Number(values.units ?? 30);
  if (![nodes, perNode, runs].every((n) => Number.isInteger(n) && n > 0)) throw new UsageError('--nodes, --containers and --runs must be positive integers');
  if (![procCount, unitCount].every((n) => Number.isInteger(n) && n >= 1)) throw new UsageError('--processes and --units must be integers of at least 1');
  const parity = !values['no-parity'];
  const shape: ParityShape = { ...DEFAULT_PARITY_SHAPE, cpus: Number(values.cpus ?? DEFAULT_PARITY_SHAPE.cpus) };
  if (!Number.isInteger(shape.cpus) || shape.cpus < 1 || shape.cpus > 1024) throw new UsageError('--cpus must be an integer from 1 to 1024');

  const db = openDatabase(':memory:');
  const store = createStore({ db });
  const t = Date.now();
  const inventory = createInventory({ store: createWorkloadStore(db), now: () => t, log: silent });
  const families = createAgentFamilies();
  const diffs = new Map<number, MetricDiff>();
  let seq = 1_000;
  /** The node's families as the agent would send them: a snapshot first, then what changed, applied as the gateway does. */
  const shipFamilies = (nodeId: number, i: number, round: number) => {
    let diff = diffs.get(nodeId);
    const fams = parityFamilies(i, round, shape);
    const records = diff ? diff.delta(fams, t) : (diffs.set(nodeId, (diff = createMetricDiff({ random: () => 0.5 }))), diff.snapshot(fams, t));
    for (const r of records) {
      const out = families.apply(nodeId, { ...r, seq: seq++ });
      if (out.rejected) throw new Error(`the hub rejected ${out.rejected} parts of node ${i}'s families: ${out.reason}`);
    }
  };
  process.stderr.write(`simulating ${nodes} nodes x ${perNode} containers...\n`);
  for (let i = 0; i < nodes; i++) {
    const n = store.joinNode(`node-${i}`, `m${i}`, t);
    store.setFacts(n.id, facts(i), t);
    store.setOnline(n.id, true, t);
    store.insertSamples(n.id, [{ sample: { seq: 1, ts: t, data: sample(i) }, cpuUsed: 0.1, memUsed: 3e9 }], { dropped: 0 }, t);
    const containers: ContainerInfo[] = Array.from({ length: perNode }, (_, c) => ({
      id: `${i.toString(16).padStart(8, '0')}${c.toString(16).padStart(56, '0')}`, name: `app-${c}-1`, image: `registry.lan/app-${c}:1.${c}`, imageId: 'sha256:x',
      command: '/app', state: 'running', health: 'healthy', restartCount: 0, restartPolicy: 'unless-stopped', pid: 1000 + c,
      ports: [{ containerPort: 8080, protocol: 'tcp', hostPort: 10000 + c, hostIp: '0.0.0.0' }],
      labels: { 'com.docker.compose.project': 'stack', 'com.docker.compose.service': `app-${c}` }, composeProject: 'stack', composeService: `app-${c}`,
      startedAt: t - 3_600_000,
    }));
    const processes: ProcessInfo[] = Array.from({ length: procCount }, (_, p) => ({
      pid: 100 + p, ppid: 1, name: `proc${p % 40}`, cmdline: `/usr/bin/proc${p % 40} --serve`, uid: 0, user: 'root', startTime: 1_700_000_000 + p, cpuSeconds: p, rssBytes: 1e7, owner: {},
    }));
    const units: UnitInfo[] = Array.from({ length: unitCount }, (_, u) => ({ name: `svc${u}.service`, description: '', loadState: 'loaded', activeState: u === 0 ? 'failed' : 'active', subState: 'running', mainPid: 0, restarts: 0 }));
    inventory.apply(n, { type: 'workloads', ts: t, sync: { id: 1, part: 0, last: true }, upsert: { containers, processes, units, ports: [] }, remove: { processes: [], containers: [], units: [], ports: [] },
      use: containers.map((c) => ({ id: c.id, cpuSeconds: 12.5, memoryBytes: 2e8, workingSetBytes: 1.5e8, rxBytes: 1e7, txBytes: 5e6 })) });
    if (parity) shipFamilies(n.id, i, 0);
  }
  const metrics = createHubMetrics({ registry: new Registry(), store, inventory, nodeServices: createNodeServices({ inventory }), now: () => t, ...(parity ? { families } : {}) });
  const prerender = !values['no-prerender'];
  const times: number[] = [];
  const prerenderTimes: number[] = [];
  let size = 0;
  let series = 0;
  /** Every node alone: ms and bytes of each render, and the totals of each round. */
  const nodeTimes: number[] = [];
  const nodeTotals: number[] = [];
  const nodeBytes: number[] = [];
  // CPU time as well as wall time: on a shared machine the wall clock also counts other processes' turns.
  const scrapeCpu: number[] = [];
  const nodesCpu: number[] = [];
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const collect = (globalThis as { gc?: () => void }).gc;
  let nodeBytesTotal = 0;
  let nodeSeries = 0;
  const ids = store.listNodes();
  for (let r = 0; r < runs + 2; r++) {
    // Between scrapes, as in a live fleet: every node sends a new sample, its containers' use, and one busy process.
    for (const n of ids) {
      const i = Number(n.name.slice(5));
      store.insertSamples(n.id, [{ sample: { seq: r + 2, ts: t, data: sample(i + r) }, cpuUsed: 0.1, memUsed: 3e9 }], { dropped: 0 }, t);
      const w = inventory.get(n.id)!;
      // And on one node in a hundred a process restarts (a new pid): what runs changed, so the services series are rendered again too.
      const churn: ProcessInfo[] = i % 100 === r % 100 ? [{ ...w.processes.get('100')!, pid: 100_000 + r, startTime: 1_800_000_000 + r }] : [];
      inventory.apply(n, { type: 'workloads', ts: t, upsert: { processes: [{ ...w.processes.get('100')!, cpuSeconds: r + 1 }, ...churn], containers: [], units: [], ports: [] },
        remove: { processes: [], containers: [], units: [], ports: [] }, use: [...w.use.values()].map((u) => ({ ...u, cpuSeconds: u.cpuSeconds + 1 })) });
      if (parity) shipFamilies(n.id, i, r + 1);
      if (prerender) metrics.nodeChanged(n.id);
    }
    if (prerender) {
      const p0 = performance.now();
      metrics.prerenderNow();
      if (r >= 2) prerenderTimes.push(performance.now() - p0);
    }
    // With --expose-gc, each way starts from a collected heap: a major GC of a heap this size takes hundreds of
    // ms, and without this it lands in whichever way happens to run when the other one's garbage fills it.
    collect?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { chunks, bytes } = await metrics.render();
    const ms = performance.now() - t0;
    if (r >= 2) scrapeCpu.push(cpuMs(process.cpuUsage(c0)));
    if (r >= 2) times.push(ms); // two warm-up renders
    size = bytes;
    if (r === runs + 1) series = Buffer.concat(chunks).toString().split('\n').filter((l) => l && !l.startsWith('#')).length;
    // The same data scraped the other way: every node as its own target.
    let total = 0;
    let bytesAll = 0;
    collect?.();
    const nc0 = process.cpuUsage();
    for (const n of ids) {
      const n0 = performance.now();
      const one = await metrics.renderNode(n.name);
      const took = performance.now() - n0;
      if (one.kind !== 'ok') throw new Error(`node ${n.name} rendered ${one.kind}`);
      total += took;
      bytesAll += one.bytes;
      if (r >= 2) { nodeTimes.push(took); nodeBytes.push(one.bytes); }
      if (r === runs + 1) nodeSeries += Buffer.concat(one.chunks).toString().split('\n').filter((l) => l && !l.startsWith('#')).length;
    }
    if (r >= 2) { nodeTotals.push(total); nodesCpu.push(cpuMs(process.cpuUsage(nc0))); }
    nodeBytesTotal = bytesAll;
  }
  const med = median(times)!;
  const p90 = percentile(times, 0.9)!;
  const nodeMed = median(nodeTimes)!;
  const nodeTotal = median(nodeTotals)!;
  const lines = [
    '',
    parity
      ? `${nodes} nodes at node_exporter parity (${shape.cpus} CPUs, ${shape.disks} disks, ${shape.filesystems} filesystems, ${shape.interfaces} interfaces) x ${perNode} running containers (+${procCount} processes, ${unitCount} units per node)`
      : `${nodes} nodes x ${perNode} running containers (+${procCount} processes, ${unitCount} units, 4 CPUs, 3 filesystems, 3 interfaces per node)`,
    `series per scrape  ${series.toLocaleString('en')} (${Math.round(nodeSeries / nodes).toLocaleString('en')} a node)`,
    `body size          ${(size / 1024 / 1024).toFixed(1)} MiB`,
    `scrape time        median ${med.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms over ${runs} scrapes (target < 250 ms: ${med < 250 ? 'met' : 'MISSED'})`,
    `CPU time           one scrape ${median(scrapeCpu)!.toFixed(0)} ms; every node alone ${median(nodesCpu)!.toFixed(0)} ms in all (${(median(nodesCpu)! / median(scrapeCpu)!).toFixed(2)}x; medians, all threads of the process)`,
    `per-node scrapes   median ${nodeMed.toFixed(3)} ms and ${(median(nodeBytes)! / 1024).toFixed(0)} KiB a node; ${nodeTotal.toFixed(0)} ms and ${(nodeBytesTotal / 1024 / 1024).toFixed(1)} MiB for all ${nodes} (median of ${runs} rounds; ${(nodeTotal / med).toFixed(2)}x the one scrape's time)`,
    prerender
      ? `prerendering       median ${median(prerenderTimes)!.toFixed(0)} ms of CPU per round of new data from every node (${(median(prerenderTimes)! / nodes).toFixed(2)} ms a node, in slices of 10 nodes as data arrives)`
      : 'prerendering       off (--no-prerender): every scrape renders every node',
    `node ${process.version}, one thread${collect ? ', heap collected before each way (--expose-gc)' : ''}`,
    '',
  ];
  process.stderr.write(lines.join('\n'));
  if (values.json) process.stdout.write(JSON.stringify({ nodes, perNode, processes: procCount, units: unitCount, runs, prerender, parity, shape, series, bytes: size, medianMs: med, p90Ms: p90, times,
    scrapeCpuMs: scrapeCpu, aloneCpuMs: nodesCpu,
    alone: { seriesTotal: nodeSeries, medianMs: nodeMed, p90Ms: percentile(nodeTimes, 0.9), medianBytes: median(nodeBytes), totalMedianMs: nodeTotal, totalBytes: nodeBytesTotal, totals: nodeTotals }, prerenderMedianMs: median(prerenderTimes) ?? null, prerenderTimes }, null, 2) + '\n');
  db.close();
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : `${err.stack}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
