/**
 * The agent's footprint at idle beside Debian's prometheus-node-exporter, in
 * one run on one machine: a hub, the bundled agent sampling every 10 s (once
 * per Node.js runtime given with --node), and a node_exporter of our own
 * scraped every 10 s from this process. After a warm-up, every process is
 * measured over the same window from /proc:
 *   RSS   VmRSS of /proc/PID/status, read every second: median, max, growth
 *   CPU   utime+stime+cutime+cstime of /proc/PID/stat over the window, in CPU seconds per minute
 *   kids  children seen by a 100 ms /proc scan, those started in the window, and CPU of
 *         reaped children (cutime+cstime); "no children" counts the started and reaped
 *         ones, not a long-lived child such as the log collector's journalctl
 *   sent  bytes each agent's link to the hub carried per minute (ss: bytes acked)
 *   bare  beside every agent, a bare Node on the same binary (`node -e
 *         'setInterval(()=>{},1e3)'`), measured the same way: the agent's own
 *         cost is its RSS (and RssAnon, RssFile) minus the bare process's
 *
 * With --busy the node is given work first: 50 containers from the busybox
 * test image and sleeping processes up to 500 on the machine, so the agent
 * reports a realistic inventory (snapshot on connect, deltas afterwards).
 *
 * Targets: agent RSS over bare Node on the same binary <= 10 MiB; agent CPU
 * s/min <= node_exporter's; no child processes spawned per sample. (RSS
 * against node_exporter's is reported too: 2.5x was the first target.)
 *
 * When Debian's prometheus-process-exporter is installed it runs too, with
 * the agent's default process groups (every process with a command line, by
 * name) and scraped every 10 s: the agent replaces both, so the pair's sum is
 * reported beside node_exporter alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countFlag, durationFlag, parseFlags, UsageError } from './bench-args.ts';
import { watchChildren } from './child-watch.ts';
import { dockerEventsBetween, forksSinceBoot, machineInfo } from './host-info.ts';
import { createJoinToken, hubApi, ROOT, startBenchHub, type BenchHub } from './hub-process.ts';
import { freeLoopbackPort } from './loopback.ts';
import { agentNodeFlags, KEEP_RUNTIME } from '../agent/runtime-flags.ts';
import { DEFAULT_PROCESS_GROUPS_YAML } from '../agent/collectors/process-groups-config.ts';
import { BENCH_IMAGE, processCount, startBenchWorkload, type BenchWorkload } from './bench-workload.ts';
import { bytesAckedTo, bytesBetween } from './socket-bytes.ts';
import { clockTicksPerSecond, cpuSeconds, readProcCpu, readProcMemory, type ProcCpu, type ProcMemory } from './proc-stats.ts';
import { maximum, median } from './stats.ts';
import { runBench, type Managed, type Supervisor } from './supervisor.ts';
import { fixed, formatTable, mib } from './table.ts';
import { seconds, sleepUntil, waitUntil } from './timing.ts';

const USAGE = `Usage: node bench/agent-footprint.ts [--warmup 2m] [--duration 4m] [--node 'PATH [FLAG]...']... [--agent-env K=V]... [--busy] [--json]
       npm run bench:agent -- [flags]

Measures the muster agent at idle (--interval 10s) beside prometheus-node-exporter
(and prometheus-process-exporter with the agent's default groups, when
installed), each scraped every 10 s, in one run: RSS (median, max, growth),
CPU seconds per minute, child processes. Builds dist/muster-agent.js first.

  --warmup DUR    time before the window (default 2m)
  --duration DUR  measurement window (default 4m)
  --node 'PATH [NAME=VALUE]... [FLAG]... [-- AGENT-FLAG...]'
                  Node.js binary to run the agent bundle with, Node/V8 flags
                  to give it before the bundle, and after -- more agent flags
                  (e.g. --no-logs); repeat it to run one agent per runtime (or
                  set of flags) side by side (default: this node). Without
                  flags the agent gets the ones its service launcher gives
                  (agent/runtime-flags.ts); with flags, those only
                  (MUSTER_NODE_FLAGS=keep); the flag --as-started runs it
                  with none. NAME=VALUE sets that agent's environment. A bare
                  Node runs beside the agents once per binary.
  --agent-env K=V environment for every agent (repeatable), e.g.
                  MUSTER_NODE_FLAGS=keep to run an agent without its own flags
  --busy          first start 50 containers (image ${BENCH_IMAGE}) and sleeping
                  processes up to 500 on the machine; removed at the end
  --containers N  as --busy, with N containers
  --processes N   as --busy, topping the machine up to N processes
  --json          print a JSON summary on stdout (the tables go to stderr)
`;

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** Optional: without it the pair's row is left out. */
const PROCESS_EXPORTER = '/usr/bin/prometheus-process-exporter';
const INTERVAL_MS = 10_000;
const RSS_EVERY_MS = 1_000;
const CHILD_SCAN_MS = 100;
const TARGET_RSS_RATIO = 2.5;
const TARGET_OVER_BARE_BYTES = 10 * 1024 * 1024;
const BARE_SCRIPT = 'setInterval(()=>{},1e3)';
/** In --node: run the agent with no Node flags at all. */
const AS_STARTED = '--as-started';
const TARGET_CPU_RATIO = 1;

/** What was measured of one process over the window. */
interface Footprint {
  pid: number;
  rssMedianBytes: number | undefined;
  rssMaxBytes: number | undefined;
  /** Median RSS of the window's last quarter minus that of its first quarter. */
  rssGrowthBytes: number | undefined;
  /** The same for RssAnon alone: heap growth (a leak shows here), not code pages of the binary being touched. */
  rssAnonGrowthBytes: number | undefined;
  /** VmHWM at the end: the peak since the process started, start-up included. */
  rssPeakSinceStartBytes: number | undefined;
  rssReadings: number;
  /** Medians of the private (RssAnon) and file-backed (RssFile) parts of the RSS. */
  rssAnonMedianBytes: number | undefined;
  rssFileMedianBytes: number | undefined;
  cpuSecondsPerMinute: number;
  threads: number;
  /** Distinct children seen by the /proc scan during the window. */
  childrenSeen: number;
  /** Of those, the ones started during the window (a long-lived child such as the log collector's journalctl is not). */
  childrenStarted: number;
  childNames: string[];
  /** CPU seconds of children reaped during the window (cutime+cstime). */
  childCpuSeconds: number;
}

/** One agent under test: the runtime it runs on and its process. */
interface AgentUnderTest {
  name: string;
  runtime: string;
  nodeBin: string;
  /** Node/V8 flags given before the bundle (from --node). */
  nodeFlags: string[];
  /** Agent flags given after the usual ones (from --node, after --). */
  agentArgs: string[];
  proc: Managed;
}

/** A bare Node (`node -e 'setInterval(()=>{},1e3)'`) on one binary: what the runtime alone costs. */
interface BareNode {
  nodeBin: string;
  runtime: string;
  proc: Managed;
}

runBench(USAGE, async (sup) => {
  const { values } = parseFlags(process.argv.slice(2), {
    warmup: { type: 'string' }, duration: { type: 'string' }, node: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    busy: { type: 'boolean' }, containers: { type: 'string' }, processes: { type: 'string' }, 'agent-env': { type: 'string', multiple: true },
  });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const busy = values.busy || values.containers !== undefined || values.processes !== undefined
    ? { containers: countFlag('containers', values.containers, 50), processes: countFlag('processes', values.processes, 500) }
    : undefined;
  const warmupMs = durationFlag('warmup', values.warmup, '2m');
  const durationMs = durationFlag('duration', values.duration, '4m');
  const nodeSpecs = (values.node?.length ? values.node : [process.execPath]).map((spec) => {
    const words = spec.trim().split(/\s+/);
    const cut = words.indexOf('--');
    const head = cut < 0 ? words : words.slice(0, cut);
    const isEnv = (w: string) => /^[A-Z_][A-Z0-9_]*=/.test(w);
    const [nodeBin, ...nodeFlags] = head.filter((w) => !isEnv(w));
    const ownEnv = Object.fromEntries(head.filter(isEnv).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    const agentArgs = cut < 0 ? [] : words.slice(cut + 1);
    if (!nodeBin || !existsSync(nodeBin)) throw new UsageError(`--node must start with the path of a Node.js binary, not ${JSON.stringify(spec)}`);
    if (nodeFlags.some((f) => !f.startsWith('-'))) throw new UsageError(`--node takes a binary and flags (each starting with -), not ${JSON.stringify(spec)}`);
    return { nodeBin, nodeFlags, agentArgs, ownEnv };
  });
  const agentEnv: Record<string, string> = {};
  for (const kv of values['agent-env'] ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv);
    if (!m) throw new UsageError(`--agent-env must be NAME=VALUE, not ${JSON.stringify(kv)}`);
    agentEnv[m[1]!] = m[2]!;
  }
  const bareBins = [...new Set(nodeSpecs.map((n) => n.nodeBin))];
  const log = (s: string) => process.stderr.write(`${s}\n`);

  if (!existsSync(NODE_EXPORTER)) {
    log(`${NODE_EXPORTER} is missing: install Debian's node_exporter with\n  apt-get install -y prometheus-node-exporter\n(this bench starts its own instance on loopback; the package's systemd service does not matter)`);
    return 1;
  }
  const ticks = clockTicksPerSecond();
  log('building the agent bundle (node install/build-agent.ts)');
  execFileSync(process.execPath, [join(ROOT, 'install/build-agent.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
  // node_exporter says `version 1.5.0 (...)`; Debian's process-exporter `version  (branch: debian/sid, revision: 0.7.10-3+b5)`.
  const versionOf = (bin: string) => {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /version (\d\S*)/.exec(out)?.[1] ?? /revision: ([\d.]+)/.exec(out)?.[1] ?? 'unknown';
  };
  const neVersion = versionOf(NODE_EXPORTER);
  const peVersion = existsSync(PROCESS_EXPORTER) ? versionOf(PROCESS_EXPORTER) : undefined;
  if (peVersion === undefined) log(`${PROCESS_EXPORTER} is missing: the agent is compared with node_exporter alone (apt-get install -y prometheus-process-exporter adds the pair)`);

  let workload: BenchWorkload | undefined;
  if (busy) {
    // The agents, the hub and the exporters add processes of their own.
    workload = startBenchWorkload({ ...busy, reserve: nodeSpecs.length + bareBins.length + 3, log });
  }
  try {
    return await measure();
  } finally {
    workload?.stop();
  }

  async function measure(): Promise<number> {
    const hub = await startBenchHub(sup);
    const hubPort = Number(new URL(hub.url).port);
    const token = await createJoinToken(hub);
    const runtimeOf = (nodeBin: string) => execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
    const agents = nodeSpecs.map(({ nodeBin, nodeFlags: given, agentArgs, ownEnv }, i): AgentUnderTest => {
      const runtime = runtimeOf(nodeBin);
      // As the service runs it, or exactly as told.
      const nodeFlags = given.length === 0 ? agentNodeFlags(runtime) : given.filter((f) => f !== AS_STARTED);
      const env = given.length === 0 ? {} : { MUSTER_NODE_FLAGS: KEEP_RUNTIME };
      const name = `bench-agent-${i + 1}-node${runtime.replace(/^v/, '').split('.')[0]}`;
      const proc = sup.start(name, nodeBin, [
        ...nodeFlags, join(ROOT, 'dist/muster-agent.js'), '--hub', hub.url, '--ca-file', hub.caFile, '--join', token, '--name', name, '--state', sup.tempDir('agent'), '--interval', `${INTERVAL_MS / 1000}s`, ...agentArgs,
      ], { env: { ...process.env, ...env, ...agentEnv, ...ownEnv } });
      const label = Object.entries(ownEnv).map(([k, v]) => `${k}=${v}`);
      return { name, runtime, nodeBin, nodeFlags: [...label, ...nodeFlags], agentArgs, proc };
    });
    const bares = bareBins.map((nodeBin, i): BareNode => ({
      nodeBin, runtime: runtimeOf(nodeBin), proc: sup.start(`bare-node-${i + 1}`, nodeBin, ['-e', BARE_SCRIPT]),
    }));
    const startExporter = async (name: string, bin: string, args: string[]) => {
      const port = await freeLoopbackPort();
      const proc = sup.start(name, bin, [`--web.listen-address=127.0.0.1:${port}`, ...args]);
      const url = `http://127.0.0.1:${port}/metrics`;
      await waitUntil(`${name} to answer`, async () => {
        if (!proc.running()) throw new Error(`${name} exited:\n${proc.output()}`);
        return fetch(url).then((r) => r.ok, () => false);
      }, 20_000);
      return { name, proc, url, scrapes: 0, scrapeErrors: 0, scrapeBytes: 0 };
    };
    const neScrape = await startExporter('node_exporter', NODE_EXPORTER, []);
    const nodeExporter = neScrape.proc;
    let peScrape: Awaited<ReturnType<typeof startExporter>> | undefined;
    if (peVersion !== undefined) {
      const groups = join(sup.tempDir('process-exporter'), 'groups.yml');
      writeFileSync(groups, DEFAULT_PROCESS_GROUPS_YAML);
      peScrape = await startExporter('process-exporter', PROCESS_EXPORTER, [`-config.path=${groups}`]);
    }
    const exporters = peScrape ? [neScrape, peScrape] : [neScrape];
    for (const a of agents) await waitForAgent(hub, a);
    log(`${agents.map((a) => `${a.name} pid ${a.proc.pid} (${agentLabel(a.runtime, a.nodeFlags, a.agentArgs).replace(/^agent, /, '')})`).join(', ')}; ` +
      `${bares.map((b) => `bare node ${b.runtime} pid ${b.proc.pid}`).join(', ')}; node_exporter ${neVersion} pid ${nodeExporter.pid}` +
      (peScrape ? `; process-exporter ${peVersion} pid ${peScrape.proc.pid}` : ''));
    log(`warm-up ${seconds(warmupMs)}, window ${seconds(durationMs)}`);

    // Scrape the exporters every 10 s for the whole run, like a Prometheus with scrape_interval 10s.
    let scraping = true;
    const t0 = performance.now();
    const scrapeLoop = (async () => {
      for (let k = 0; scraping; k++) {
        await sleepUntil(t0 + k * INTERVAL_MS);
        if (!scraping) break;
        await Promise.all(exporters.map(async (e) => {
          try {
            const body = await (await fetch(e.url)).text();
            e.scrapes++;
            e.scrapeBytes = body.length;
          } catch {
            e.scrapeErrors++;
          }
        }));
      }
    })();

    try {
      await sleepUntil(t0 + warmupMs);
      // Order matters below: agents, then the bare Nodes, then the exporters (node_exporter first).
      const procs = [...agents.map((a) => a.proc), ...bares.map((b) => b.proc), ...exporters.map((e) => e.proc)];
      const before = procs.map((p) => alive(p, readProcCpu));
      const windowStartWall = Date.now();
      const sentBefore = agents.map((a) => bytesAckedTo(a.proc.pid, hubPort));
      const forksBefore = forksSinceBoot();
      const tStart = performance.now();
      const watch = watchChildren(procs.map((p) => p.pid), CHILD_SCAN_MS);
      const mem: ProcMemory[][] = procs.map(() => []);
      for (let k = 0; k * RSS_EVERY_MS <= durationMs; k++) {
        await sleepUntil(tStart + k * RSS_EVERY_MS);
        procs.forEach((p, i) => mem[i]!.push(alive(p, readProcMemory)));
      }
      const after = procs.map((p) => alive(p, readProcCpu));
      const windowMs = performance.now() - tStart;
      const sentPerMinute = agents.map((a, i) => {
        const b = bytesBetween(sentBefore[i]!, bytesAckedTo(a.proc.pid, hubPort));
        return b === undefined ? undefined : b / (windowMs / 60_000);
      });
      const processesOnMachine = processCount();
      watch.stop();
      // Other work on the machine makes the agent work too: new processes and sockets to look at, Docker events to follow.
      const activity = {
        forksPerMinute: (forksSinceBoot() - forksBefore) / (windowMs / 60_000),
        dockerEvents: dockerEventsBetween(windowStartWall, Date.now()),
      };

      const footprint = (i: number): Footprint => {
        const p = procs[i]!;
        const m = mem[i]!;
        const rss = m.map((r) => r.rssBytes);
        return {
          pid: p.pid,
          rssMedianBytes: median(rss),
          rssMaxBytes: maximum(rss),
          rssGrowthBytes: growth(rss),
          rssAnonGrowthBytes: growth(m.map((r) => r.rssAnonBytes)),
          rssPeakSinceStartBytes: m[m.length - 1]?.peakRssBytes,
          rssReadings: rss.length,
          rssAnonMedianBytes: median(m.map((r) => r.rssAnonBytes)),
          rssFileMedianBytes: median(m.map((r) => r.rssFileBytes)),
          cpuSecondsPerMinute: (cpuSeconds(after[i]!, ticks) - cpuSeconds(before[i]!, ticks)) / (windowMs / 60_000),
          threads: m[m.length - 1]?.threads ?? 0,
          childrenSeen: watch.seen(p.pid),
          childrenStarted: watch.started(p.pid),
          childNames: watch.names(p.pid),
          childCpuSeconds: childTicks(after[i]!, before[i]!) / ticks,
        };
      };
      const firstExporter = agents.length + bares.length;
      const ne = footprint(firstExporter);
      const pe = peScrape ? footprint(firstExporter + 1) : undefined;
      const sum = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : x + y);
      // What the agent replaces: node_exporter and process-exporter together.
      const pair = pe ? { rssMedianBytes: sum(ne.rssMedianBytes, pe.rssMedianBytes), cpuSecondsPerMinute: ne.cpuSecondsPerMinute + pe.cpuSecondsPerMinute } : undefined;
      const bareFootprints = bares.map((b, i) => ({ ...b, footprint: footprint(agents.length + i) }));
      const diff = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : x - y);
      const ratio = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || y === 0 ? undefined : x / y);
      const results = await Promise.all(agents.map(async (a, i) => {
        const fp = footprint(i);
        const rssRatio = ratio(fp.rssMedianBytes, ne.rssMedianBytes);
        const cpuRatio = ratio(fp.cpuSecondsPerMinute, ne.cpuSecondsPerMinute);
        const bare = bareFootprints.find((b) => b.nodeBin === a.nodeBin)!.footprint;
        const overBare = {
          rssMedianBytes: diff(fp.rssMedianBytes, bare.rssMedianBytes),
          rssAnonMedianBytes: diff(fp.rssAnonMedianBytes, bare.rssAnonMedianBytes),
          rssFileMedianBytes: diff(fp.rssFileMedianBytes, bare.rssFileMedianBytes),
        };
        return {
          name: a.name,
          runtime: `node ${a.runtime}`,
          nodeBin: a.nodeBin,
          nodeFlags: a.nodeFlags,
          agentArgs: a.agentArgs,
          ...fp,
          overBare,
          samplesStored: await samplesSince(hub, a.name, windowStartWall),
          sentBytesPerMinute: sentPerMinute[i],
          ratios: {
            rssMedian: rssRatio, rssMax: ratio(fp.rssMaxBytes, ne.rssMaxBytes), cpu: cpuRatio,
            ...(pair ? { rssMedianVsPair: ratio(fp.rssMedianBytes, pair.rssMedianBytes), cpuVsPair: ratio(fp.cpuSecondsPerMinute, pair.cpuSecondsPerMinute) } : {}),
          },
          targets: {
            overBare: { maxBytes: TARGET_OVER_BARE_BYTES, met: overBare.rssMedianBytes === undefined ? undefined : overBare.rssMedianBytes <= TARGET_OVER_BARE_BYTES },
            rss: { maxRatio: TARGET_RSS_RATIO, met: rssRatio === undefined ? undefined : rssRatio <= TARGET_RSS_RATIO },
            cpu: { maxRatio: TARGET_CPU_RATIO, met: cpuRatio === undefined ? undefined : cpuRatio <= TARGET_CPU_RATIO },
            // Per sample: none started in the window and none reaped; a child running all along (journalctl) is not one.
            noChildren: { met: fp.childrenStarted === 0 && fp.childCpuSeconds === 0 },
          },
        };
      }));
      const machine = machineInfo();

      const row = (label: string, f: Footprint) => [
        label, mib(f.rssMedianBytes), mib(f.rssMaxBytes), signedMib(f.rssGrowthBytes), mib(f.rssAnonMedianBytes), signedMib(f.rssAnonGrowthBytes),
        mib(f.rssFileMedianBytes), fixed(f.cpuSecondsPerMinute, 3), String(f.threads), String(f.childrenSeen), fixed(f.childCpuSeconds, 2),
      ];
      const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');
      const usage = formatTable(
        ['process', 'RSS median', 'RSS max', 'RSS growth', 'RssAnon med', 'RssAnon growth', 'RssFile med', 'CPU s/min', 'threads', 'children', 'child CPU s', 'sent KiB/min'],
        [
          ...results.map((r) => [...row(agentLabel(r.runtime, r.nodeFlags, r.agentArgs), r), r.sentBytesPerMinute === undefined ? 'reconnected' : fixed(r.sentBytesPerMinute / 1024, 1)]),
          ...bareFootprints.map((b) => [...row(`bare node ${b.runtime}`, b.footprint), '-']),
          [...row(`node_exporter ${neVersion}`, ne), `${fixed((neScrape.scrapeBytes * 6) / 1024, 1)} (scraped)`],
          ...(pe && peScrape ? [[...row(`process-exporter ${peVersion}`, pe), `${fixed((peScrape.scrapeBytes * 6) / 1024, 1)} (scraped)`]] : []),
          ...(pair && peScrape ? [[
            'node_exporter + process-exporter', mib(pair.rssMedianBytes), '-', '-', '-', '-', '-', fixed(pair.cpuSecondsPerMinute, 3), '-', '-', '-',
            `${fixed(((neScrape.scrapeBytes + peScrape.scrapeBytes) * 6) / 1024, 1)} (scraped)`,
          ]] : []),
        ],
      );
      const overBareTable = formatTable(
        ['agent', 'RSS over bare', 'RssAnon over bare', 'RssFile over bare', `target <= ${mib(TARGET_OVER_BARE_BYTES)}`],
        results.map((r) => [
          agentLabel(r.runtime, r.nodeFlags, r.agentArgs), signedMib(r.overBare.rssMedianBytes), signedMib(r.overBare.rssAnonMedianBytes), signedMib(r.overBare.rssFileMedianBytes),
          verdict(r.targets.overBare.met),
        ]),
      );
      const targets = formatTable(
        ['agent runtime', 'RSS / node_exporter', `target <= ${TARGET_RSS_RATIO}x`, 'CPU / node_exporter', `target <= ${TARGET_CPU_RATIO}x`, 'no children',
          ...(pair ? ['RSS / the pair', 'CPU / the pair'] : [])],
        results.map((r) => [
          agentLabel(r.runtime, r.nodeFlags, r.agentArgs), fixed(r.ratios.rssMedian, 2, 'x'), verdict(r.targets.rss.met), fixed(r.ratios.cpu, 2, 'x'), verdict(r.targets.cpu.met), verdict(r.targets.noChildren.met),
          ...(pair ? [fixed(r.ratios.rssMedianVsPair, 2, 'x'), fixed(r.ratios.cpuVsPair, 2, 'x')] : []),
        ]),
      );
      const kids = results.filter((r) => r.childNames.length).map((r) => `${r.name} children: ${r.childNames.join(', ')} (${r.childrenStarted} started in the window)`);
      const report = [
        '',
        usage,
        overBareTable,
        targets,
        `machine: ${machine.cpus} CPUs, ${machine.cpuModel}, Linux ${machine.kernel}; ${processesOnMachine} processes at the end of the window` +
          (workload ? `, with ${workload.containers} bench containers and ${workload.processes} bench processes` : ' (idle: no --busy)'),
        `sent = bytes the agent's WebSocket link carried (frames above 1 KiB deflated by the agent), from ss bytes_acked; node_exporter: its uncompressed /metrics body x 6 scrapes a minute`,
        `bare node = \`node -e '${BARE_SCRIPT}'\` on the agent's binary; over bare = agent median - bare median, same window`,
        `agents: dist/muster-agent.js, --interval 10s${Object.keys(agentEnv).length ? `, env ${Object.entries(agentEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}; samples stored by the hub in the window: ${results.map((r) => `${r.samplesStored} (${r.runtime})`).join(', ')}`,
        `the machine meanwhile: ${activity.forksPerMinute.toFixed(0)} processes started per minute, ` +
          `${activity.dockerEvents === undefined ? 'Docker not reachable' : `${activity.dockerEvents} Docker events`} (the agent follows both; node_exporter does not)`,
        `node_exporter ${neVersion}, default collectors, scraped every 10 s: ${neScrape.scrapes} scrapes (${neScrape.scrapeErrors} failed), last ${(neScrape.scrapeBytes / 1024).toFixed(0)} KiB`,
        peScrape
          ? `process-exporter ${peVersion}, the agent's default groups (every process with a command line, by name), scraped every 10 s: ${peScrape.scrapes} scrapes (${peScrape.scrapeErrors} failed), last ${(peScrape.scrapeBytes / 1024).toFixed(0)} KiB; the pair = node_exporter + process-exporter, what the agent replaces on a node without containers`
          : 'process-exporter not installed: no pair row',
        `window: ${seconds(windowMs)} after ${seconds(warmupMs)} warm-up; RSS read every ${seconds(RSS_EVERY_MS)} (${ne.rssReadings} readings); ` +
          `RSS growth = median of the last quarter - median of the first; children scanned every ${CHILD_SCAN_MS} ms`,
        ...kids,
        '',
      ].join('\n');
      if (values.json) {
        process.stderr.write(report);
        process.stdout.write(JSON.stringify({
          bench: 'agent-footprint',
          machine,
          intervalSeconds: INTERVAL_MS / 1000,
          warmupSeconds: warmupMs / 1000,
          windowSeconds: Math.round(windowMs) / 1000,
          machineActivity: { ...activity, processesAtEnd: processesOnMachine, benchContainers: workload?.containers ?? 0, benchProcesses: workload?.processes ?? 0 },
          agents: results,
          bareNodes: bareFootprints.map((b) => ({ nodeBin: b.nodeBin, runtime: `node ${b.runtime}`, ...b.footprint })),
          nodeExporter: { ...ne, version: neVersion, scrapes: neScrape.scrapes, scrapeErrors: neScrape.scrapeErrors, scrapeBytes: neScrape.scrapeBytes },
          ...(pe && peScrape ? { processExporter: { ...pe, version: peVersion, scrapes: peScrape.scrapes, scrapeErrors: peScrape.scrapeErrors, scrapeBytes: peScrape.scrapeBytes }, pair } : {}),
        }, null, 2) + '\n');
      } else {
        process.stdout.write(report);
      }
      return 0;
    } finally {
      scraping = false;
      await scrapeLoop;
    }
  }
});

/** Waits until the hub has the agent online with at least one stored sample. */
async function waitForAgent(hub: BenchHub, a: AgentUnderTest): Promise<void> {
  await waitUntil(`${a.name} to report`, async () => {
    if (!a.proc.running()) throw new Error(`${a.name} exited:\n${a.proc.output()}`);
    const r = await hubApi<{ online?: boolean; samples?: { ackedSeq: number } }>(hub, `/api/v1/nodes/${a.name}`);
    return r.status === 200 && r.body.online === true && (r.body.samples?.ackedSeq ?? 0) > 0;
  }, 30_000, 250);
}

/** Samples of a node the hub stored since `sinceMs` (epoch ms). */
async function samplesSince(hub: BenchHub, name: string, sinceMs: number): Promise<number> {
  const r = await hubApi<{ samples?: unknown[] }>(hub, `/api/v1/nodes/${name}/samples?since=${sinceMs}`);
  return r.body.samples?.length ?? 0;
}

/** Reads a /proc figure of a process that must still be running; says which one died otherwise. */
function alive<T>(p: Managed, read: (pid: number) => T): T {
  if (!p.running()) {
    const status = p.child.exitCode ?? p.child.signalCode;
    throw new Error(`${p.name} (pid ${p.pid}) ended during the bench (${typeof status === 'number' ? `exit code ${status}` : `signal ${status}`}):\n${p.output().slice(-4000)}`);
  }
  return read(p.pid);
}

/** Ticks of children reaped between two readings. */
function childTicks(after: ProcCpu, before: ProcCpu): number {
  return after.cutime + after.cstime - before.cutime - before.cstime;
}

/** Median of the last quarter of the readings minus the median of the first quarter. */
function growth(readings: readonly number[]): number | undefined {
  const quarter = Math.max(1, Math.floor(readings.length / 4));
  const first = median(readings.slice(0, quarter));
  const last = median(readings.slice(-quarter));
  return first === undefined || last === undefined ? undefined : last - first;
}

/** How an agent is named in the tables: its runtime and the flags it was started with. */
function agentLabel(runtime: string, nodeFlags: readonly string[], agentArgs: readonly string[]): string {
  return `agent, node ${runtime.replace(/^node /, '')}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ' (no flags)'}${agentArgs.length ? ` -- ${agentArgs.join(' ')}` : ''}`;
}

/** A byte difference as signed MiB. */
function signedMib(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${bytes >= 0 ? '+' : ''}${mib(bytes)}`;
}
