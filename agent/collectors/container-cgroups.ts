/**
 * cAdvisor's families for the running Docker containers, read from each
 * container's cgroup (v2, or v1 controller by controller) and from
 * /proc/<pid>/net/dev of its first process: CPU (user, system, CFS
 * throttling), memory (usage, working set, rss, cache, swap, peak, failcnt),
 * OOM kills, the limits Docker set (quota, period, shares, memory), network
 * packets, errors and drops, block I/O per device, processes and threads.
 *
 * Names, types, help and labels are cAdvisor's: `id` is the container's
 * cgroup path as cAdvisor names it (`/docker/<id>` with Docker's cgroupfs
 * driver, `/system.slice/docker-<id>.scope` with systemd's), `name` and
 * `image` are Docker's, and three Docker labels dashboards group by become
 * `container_label_*` (empty where a container lacks them, which Prometheus
 * reads as absent). Which containers run, and their first process, come from
 * the container reader (agent/collectors/containers.ts), which asks Docker
 * every interval already; this collector only reads files.
 */
import { readlinkSync } from 'node:fs';
import type { ContainerInfo } from '../../protocol/workloads.ts';
import { cgroupLines } from './cgroup-owner.ts';
import { parseNetDevColumns } from './net-dev.ts';
import { hostPath, isAbsent, readWhole } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The running containers as Docker last reported them. */
export interface RunningContainers {
  running(): readonly Pick<ContainerInfo, 'id' | 'name' | 'image' | 'pid' | 'labels' | 'startedAt'>[];
}

/** Docker labels exported as cAdvisor's `container_label_<label>`; every label would multiply the size of /metrics. */
export const EXPORTED_DOCKER_LABELS = ['com.docker.compose.project', 'com.docker.compose.service', 'muster.service'] as const;

/** Where a container's cgroup is: one path on v2, one per controller on v1. */
export interface CgroupPlace {
  /** cAdvisor's `id`: the cgroup path (v1: the cpu controller's). */
  id: string;
  /** v2: the unified path. */
  unified: string | undefined;
  /** v1: controller -> path in its hierarchy. */
  controllers: Map<string, string>;
}

/** Parses /proc/PID/cgroup (`0::/path` on v2; `4:memory:/docker/<id>` and `1:cpu,cpuacct:/...` on v1). */
export function parseProcCgroup(text: string): CgroupPlace {
  let unified: string | undefined;
  const controllers = new Map<string, string>();
  for (const { controllers: names, path } of cgroupLines(text)) {
    if (names === '') unified = path;
    else for (const n of names.split(',')) if (!n.startsWith('name=')) controllers.set(n, path);
  }
  // A hybrid host (v1 controllers and an empty v2 tree) keeps its controllers, and Docker its cgroups, on v1.
  const v1 = controllers.has('memory') || controllers.has('cpu') || controllers.has('cpuacct');
  const id = v1 ? controllers.get('cpu') ?? controllers.get('cpuacct') ?? controllers.get('memory')! : unified ?? '';
  return { id, unified: v1 ? undefined : unified, controllers: v1 ? controllers : new Map() };
}

/** Parses flat keyed files: `key value` lines (cpu.stat, memory.stat, memory.events, cpuacct.stat, memory.oom_control). */
export function parseKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

/** Block I/O of one device, cumulative. */
export interface DeviceIo {
  /** `major:minor`. */
  device: string;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

/** Parses v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`). */
export function parseIoStat(text: string): DeviceIo[] {
  const out: DeviceIo[] = [];
  for (const line of text.split('\n')) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    if (!device || !/^\d+:\d+$/.test(device)) continue;
    const kv = new Map(pairs.map((p) => p.split('=') as [string, string]));
    const n = (k: string) => Number(kv.get(k) ?? 0) || 0;
    out.push({ device, readBytes: n('rbytes'), writeBytes: n('wbytes'), reads: n('rios'), writes: n('wios') });
  }
  return out;
}

/** Parses a v1 blkio pair (`8:0 Read 4096` lines) of service bytes and serviced operations. */
export function parseBlkio(bytesText: string, opsText: string): DeviceIo[] {
  const byDevice = new Map<string, DeviceIo>();
  const take = (text: string, read: 'readBytes' | 'reads', write: 'writeBytes' | 'writes') => {
    for (const line of text.split('\n')) {
      const [device, op, value] = line.trim().split(/\s+/);
      if (!device || !/^\d+:\d+$/.test(device) || (op !== 'Read' && op !== 'Write')) continue;
      let d = byDevice.get(device);
      if (!d) byDevice.set(device, (d = { device, readBytes: 0, writeBytes: 0, reads: 0, writes: 0 }));
      d[op === 'Read' ? read : write] = Number(value) || 0;
    }
  };
  take(bytesText, 'readBytes', 'writeBytes');
  take(opsText, 'reads', 'writes');
  return [...byDevice.values()];
}

/** cAdvisor's cpu.weight (v2) to cpu.shares (v1) conversion, integer arithmetic as cAdvisor does it. */
export function cpuWeightToShares(weight: number): number {
  if (!(weight >= 1 && weight <= 10_000)) return 0;
  return 2 + Math.floor(((weight - 1) * 262_142) / 9_999);
}

/** A memory limit as cAdvisor reports it: 0 for none (`max`, or v1's near-2^63 "unlimited"). */
export function memoryLimit(text: string): number {
  const v = Number(text.trim());
  return Number.isFinite(v) && v <= 2 ** 62 ? v : 0;
}

/** One reading of a container's cgroup. Times in seconds, sizes in bytes. */
export interface CgroupStats {
  cpu: { usage: number; user: number; system: number; periods: number; throttledPeriods: number; throttledSeconds: number };
  /** quota and period in microseconds, as cpu.max and cpu.cfs_*_us hold them; quota undefined when there is none. */
  spec: { quota: number | undefined; period: number; shares: number; memoryLimit: number };
  memory: {
    usage: number;
    /** Peak usage; undefined on v2 kernels before 5.19 (no memory.peak). */
    maxUsage: number | undefined;
    workingSet: number; rss: number; cache: number; swap: number; failcnt: number; oomKills: number;
  };
  io: DeviceIo[];
  processes: number;
  /** pids.current; undefined without the pids controller. */
  threads: number | undefined;
}

type Read = (path: string) => string;
type TryRead = (path: string) => string | undefined;

const countLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '').length;

/** Working set as cAdvisor computes it: usage less inactive file pages, never below 0. */
const workingSet = (usage: number, inactiveFile: number) => Math.max(0, usage - inactiveFile);

/** Reads a cgroup v2 directory (`dir` is its path under the filesystem root). */
export function readCgroupV2(read: Read, tryRead: TryRead, dir: string): CgroupStats {
  const cpu = parseKeyed(read(`${dir}/cpu.stat`));
  const [quota, period] = (tryRead(`${dir}/cpu.max`) ?? 'max 100000').trim().split(/\s+/);
  const mem = parseKeyed(read(`${dir}/memory.stat`));
  const events = parseKeyed(tryRead(`${dir}/memory.events`) ?? '');
  const usage = Number(read(`${dir}/memory.current`).trim());
  const peak = tryRead(`${dir}/memory.peak`);
  const threads = tryRead(`${dir}/pids.current`);
  const us = (k: string) => (cpu.get(k) ?? 0) / 1e6;
  return {
    cpu: { usage: us('usage_usec'), user: us('user_usec'), system: us('system_usec'), periods: cpu.get('nr_periods') ?? 0, throttledPeriods: cpu.get('nr_throttled') ?? 0, throttledSeconds: us('throttled_usec') },
    spec: {
      quota: quota === undefined || quota === 'max' ? undefined : Number(quota),
      period: Number(period) || 0,
      shares: cpuWeightToShares(Number(tryRead(`${dir}/cpu.weight`) ?? 0)),
      memoryLimit: memoryLimit(tryRead(`${dir}/memory.max`) ?? 'max'),
    },
    memory: {
      usage,
      maxUsage: peak === undefined ? undefined : Number(peak.trim()),
      workingSet: workingSet(usage, mem.get('inactive_file') ?? 0),
      rss: mem.get('anon') ?? 0,
      cache: mem.get('file') ?? 0,
      // Without swap accounting there is no memory.swap.current, and nothing is swapped that could be counted.
      swap: Number(tryRead(`${dir}/memory.swap.current`) ?? 0),
      // v2 has no failcnt; memory.events' `max` counts the same thing, the times usage hit the limit.
      failcnt: events.get('max') ?? 0,
      oomKills: events.get('oom_kill') ?? 0,
    },
    io: parseIoStat(tryRead(`${dir}/io.stat`) ?? ''),
    processes: countLines(read(`${dir}/cgroup.procs`)),
    threads: threads === undefined ? undefined : Number(threads.trim()),
  };
}

/** Reads the v1 controllers of a cgroup (`dirs(controller)` is its directory under the filesystem root). */
export function readCgroupV1(read: Read, tryRead: TryRead, dirs: (controller: string) => string): CgroupStats {
  const cpuDir = dirs('cpu');
  const acctDir = dirs('cpuacct');
  const memDir = dirs('memory');
  const cpu = parseKeyed(tryRead(`${cpuDir}/cpu.stat`) ?? '');
  const acct = parseKeyed(read(`${acctDir}/cpuacct.stat`));
  const quota = Number(tryRead(`${cpuDir}/cpu.cfs_quota_us`) ?? -1);
  const mem = parseKeyed(read(`${memDir}/memory.stat`));
  // use_hierarchy is 1 on every kernel Docker supports: the total_* lines are the container's, children included.
  const stat = (k: string) => mem.get(`total_${k}`) ?? mem.get(k) ?? 0;
  const usage = Number(read(`${memDir}/memory.usage_in_bytes`).trim());
  const threads = tryRead(`${dirs('pids')}/pids.current`);
  // Kernels account block I/O of v1 cgroups in bfq's files under that scheduler, else in blk-throttle's
  // (which since 5.x count only on devices that have a throttle); the first with per-device lines wins, as in runc.
  const blkDir = dirs('blkio');
  let io: DeviceIo[] = [];
  for (const [bytes, ops] of [['bfq.io_service_bytes_recursive', 'bfq.io_serviced_recursive'], ['throttle.io_service_bytes_recursive', 'throttle.io_serviced_recursive'], ['throttle.io_service_bytes', 'throttle.io_serviced']]) {
    io = parseBlkio(tryRead(`${blkDir}/blkio.${bytes}`) ?? '', tryRead(`${blkDir}/blkio.${ops}`) ?? '');
    if (io.length > 0) break;
  }
  return {
    cpu: {
      usage: Number(read(`${acctDir}/cpuacct.usage`).trim()) / 1e9,
      // cpuacct.stat is in USER_HZ ticks (100 a second on every Linux architecture).
      user: (acct.get('user') ?? 0) / 100,
      system: (acct.get('system') ?? 0) / 100,
      periods: cpu.get('nr_periods') ?? 0,
      throttledPeriods: cpu.get('nr_throttled') ?? 0,
      throttledSeconds: (cpu.get('throttled_time') ?? 0) / 1e9,
    },
    spec: {
      quota: quota > 0 ? quota : undefined,
      period: Number(tryRead(`${cpuDir}/cpu.cfs_period_us`) ?? 0) || 0,
      shares: Number(tryRead(`${cpuDir}/cpu.shares`) ?? 0) || 0,
      memoryLimit: memoryLimit(tryRead(`${memDir}/memory.limit_in_bytes`) ?? ''),
    },
    memory: {
      usage,
      maxUsage: Number(tryRead(`${memDir}/memory.max_usage_in_bytes`) ?? 0) || 0,
      workingSet: workingSet(usage, stat('inactive_file')),
      rss: stat('rss'),
      cache: stat('cache'),
      swap: stat('swap'),
      failcnt: Number(tryRead(`${memDir}/memory.failcnt`) ?? 0) || 0,
      // memory.oom_control has `oom_kill` since Linux 4.13.
      oomKills: parseKeyed(tryRead(`${memDir}/memory.oom_control`) ?? '').get('oom_kill') ?? 0,
    },
    io,
    processes: countLines(read(`${cpuDir}/cgroup.procs`)),
    threads: threads === undefined ? undefined : Number(threads.trim()),
  };
}

/** Interfaces cAdvisor leaves out of a container's network: loopback, and the host's bridges and veth ends seen from a shared namespace. */
const IGNORED_INTERFACE = /^(lo|veth|docker|nerdctl)/;

/** cAdvisor's label of a Docker label: every character outside [a-zA-Z0-9_] becomes `_`. */
const labelName = (dockerLabel: string) => `container_label_${dockerLabel.replace(/[^a-zA-Z0-9_]/g, '_')}`;

const BASE_LABELS = ['id', 'name', 'image', ...EXPORTED_DOCKER_LABELS.map(labelName)];

/** What a running container used, as its cgroup and network namespace say: what the workloads' `use` reports. */
export interface ContainerCgroupUse {
  cpuSeconds: number;
  memoryBytes: number;
  workingSetBytes: number;
  rxBytes: number;
  txBytes: number;
}

/** Options for {@link createContainerCollector}. */
export interface ContainerCollectorOptions {
  /** The running containers; absent (fixture runs, `--help`), the collector has nothing to read. */
  containers?: RunningContainers;
  /**
   * Told after every run what each container it read used, by container id:
   * the container reader reports this instead of asking Docker for one-shot
   * stats, an HTTP round trip (and work for dockerd) per container per interval.
   */
  onUse?: (use: ReadonlyMap<string, ContainerCgroupUse>) => void;
}

/** The `containers` collector: cAdvisor's families for every running Docker container. */
export function createContainerCollector(opts: ContainerCollectorOptions = {}): CollectorSpec {
  return {
    name: 'containers',
    reads: 'cgroup files of running Docker containers (v2 or v1), /proc/<pid>/net/dev',
    enabled: true,
    every: 1,
    // 39 series a container with one interface and one disk; 1,000 containers with room for more interfaces and disks.
    maxSeries: 100_000,
    whenAbsent: 'quiet',
    create(ctx) {
      const read: Read = (p) => readWhole(hostPath(ctx.root, p));
      const tryRead: TryRead = (p) => {
        try {
          return read(p);
        } catch (err) {
          if (isAbsent(err)) return undefined;
          throw err;
        }
      };
      const link = (p: string) => { try { return readlinkSync(hostPath(ctx.root, p)); } catch { return undefined; } };
      /** Where each container's cgroup is, found once per container start (its first process). */
      const places = new Map<string, { pid: number; place: CgroupPlace }>();
      const devices = new Map<string, string>();
      /** cAdvisor names a device `/dev/<name>` (the kernel's name for major:minor), or '' when it knows none. */
      const deviceName = (majMin: string): string => {
        let name = devices.get(majMin);
        if (name === undefined) {
          name = /^DEVNAME=(.+)$/m.exec(tryRead(`/sys/dev/block/${majMin}/uevent`) ?? '')?.[1] ?? '';
          if (name) name = `/dev/${name}`;
          devices.set(majMin, name);
        }
        return name;
      };
      const ownNetns = () => link('/proc/self/ns/net');

      return (out) => {
        const containers = opts.containers?.running() ?? [];
        const used = new Map<string, ContainerCgroupUse>();
        if (containers.length === 0) { places.clear(); opts.onUse?.(used); return; }
        const L = BASE_LABELS;
        const gauge = (name: string, help: string, extra: string[] = []) => out.gauge(name, help, [...L, ...extra]);
        const counter = (name: string, help: string, extra: string[] = []) => out.counter(name, help, [...L, ...extra]);
        const lastSeen = gauge('container_last_seen', 'Last time a container was seen by the exporter');
        const start = gauge('container_start_time_seconds', 'Start time of the container since unix epoch in seconds.');
        const cpuUser = counter('container_cpu_user_seconds_total', 'Cumulative user cpu time consumed in seconds.');
        const cpuSystem = counter('container_cpu_system_seconds_total', 'Cumulative system cpu time consumed in seconds.');
        const cpuUsage = counter('container_cpu_usage_seconds_total', 'Cumulative cpu time consumed in seconds.', ['cpu']);
        const cfsPeriods = counter('container_cpu_cfs_periods_total', 'Number of elapsed enforcement period intervals.');
        const cfsThrottled = counter('container_cpu_cfs_throttled_periods_total', 'Number of throttled period intervals.');
        const cfsThrottledSeconds = counter('container_cpu_cfs_throttled_seconds_total', 'Total time duration the container has been throttled.');
        const memCache = gauge('container_memory_cache', 'Number of bytes of page cache memory.');
        const memRss = gauge('container_memory_rss', 'Size of RSS in bytes.');
        const memSwap = gauge('container_memory_swap', 'Container swap usage in bytes.');
        const memFailcnt = counter('container_memory_failcnt', 'Number of memory usage hits limits');
        const memUsage = gauge('container_memory_usage_bytes', 'Current memory usage in bytes, including all memory regardless of when it was accessed');
        const memMax = gauge('container_memory_max_usage_bytes', 'Maximum memory usage recorded in bytes');
        const memWs = gauge('container_memory_working_set_bytes', 'Current working set in bytes.');
        const oom = counter('container_oom_events_total', 'Count of out of memory events observed for the container');
        const specPeriod = gauge('container_spec_cpu_period', 'CPU period of the container.');
        const specQuota = gauge('container_spec_cpu_quota', 'CPU quota of the container.');
        const specShares = gauge('container_spec_cpu_shares', 'CPU share of the container.');
        const specMem = gauge('container_spec_memory_limit_bytes', 'Memory limit for the container.');
        const net = ([
          [0, 'receive_bytes', 'Cumulative count of bytes received'],
          [1, 'receive_packets', 'Cumulative count of packets received'],
          [3, 'receive_packets_dropped', 'Cumulative count of packets dropped while receiving'],
          [2, 'receive_errors', 'Cumulative count of errors encountered while receiving'],
          [8, 'transmit_bytes', 'Cumulative count of bytes transmitted'],
          [9, 'transmit_packets', 'Cumulative count of packets transmitted'],
          [11, 'transmit_packets_dropped', 'Cumulative count of packets dropped while transmitting'],
          [10, 'transmit_errors', 'Cumulative count of errors encountered while transmitting'],
        ] as const).map(([col, n, help]) => [col, counter(`container_network_${n}_total`, help, ['interface'])] as const);
        const fs = ([
          ['readBytes', 'reads_bytes', 'Cumulative count of bytes read'],
          ['reads', 'reads', 'Cumulative count of reads completed'],
          ['writeBytes', 'writes_bytes', 'Cumulative count of bytes written'],
          ['writes', 'writes', 'Cumulative count of writes completed'],
        ] as const).map(([key, n, help]) => [key, counter(`container_fs_${n}_total`, help, ['device'])] as const);
        const processes = gauge('container_processes', 'Number of processes running inside the container.');
        const threads = gauge('container_threads', 'Number of threads running inside the container');

        const now = Math.floor(ctx.now() / 1000);
        const hostNet = ownNetns();
        const seen = new Set<string>();
        let failure: unknown;
        for (const c of containers) {
          if (!c.pid) continue;
          seen.add(c.id);
          try {
            let known = places.get(c.id);
            if (!known || known.pid !== c.pid) {
              known = { pid: c.pid, place: parseProcCgroup(read(`/proc/${c.pid}/cgroup`)) };
              places.set(c.id, known);
            }
            const { place } = known;
            const s = place.unified !== undefined
              ? readCgroupV2(read, tryRead, `/sys/fs/cgroup${place.unified}`)
              : readCgroupV1(read, tryRead, (ctrl) => `/sys/fs/cgroup/${ctrl}${place.controllers.get(ctrl) ?? place.id}`);
            // A container on the host's network has no interfaces of its own: cAdvisor reports none for it.
            const netns = link(`/proc/${c.pid}/ns/net`);
            const nets = netns !== undefined && netns === hostNet ? [] : parseNetDevColumns(read(`/proc/${c.pid}/net/dev`));
            const l = [place.id, c.name, c.image, ...EXPORTED_DOCKER_LABELS.map((k) => c.labels[k] ?? '')];
            lastSeen(now, ...l);
            if (c.startedAt) start(Math.floor(c.startedAt / 1000), ...l);
            cpuUser(s.cpu.user, ...l);
            cpuSystem(s.cpu.system, ...l);
            cpuUsage(s.cpu.usage, ...l, 'total');
            if (s.spec.quota !== undefined) {
              // cAdvisor writes the CFS counters and the quota only for a container that has one.
              cfsPeriods(s.cpu.periods, ...l);
              cfsThrottled(s.cpu.throttledPeriods, ...l);
              cfsThrottledSeconds(s.cpu.throttledSeconds, ...l);
              specQuota(s.spec.quota, ...l);
            }
            specPeriod(s.spec.period, ...l);
            specShares(s.spec.shares, ...l);
            specMem(s.spec.memoryLimit, ...l);
            memCache(s.memory.cache, ...l);
            memRss(s.memory.rss, ...l);
            memSwap(s.memory.swap, ...l);
            memFailcnt(s.memory.failcnt, ...l);
            memUsage(s.memory.usage, ...l);
            if (s.memory.maxUsage !== undefined) memMax(s.memory.maxUsage, ...l);
            memWs(s.memory.workingSet, ...l);
            oom(s.memory.oomKills, ...l);
            let rx = 0;
            let tx = 0;
            for (const { device, values } of nets) {
              if (IGNORED_INTERFACE.test(device)) continue;
              for (const [col, add] of net) add(values[col]!, ...l, device);
              rx += values[0]!;
              tx += values[8]!;
            }
            used.set(c.id, { cpuSeconds: s.cpu.usage, memoryBytes: s.memory.usage, workingSetBytes: s.memory.workingSet, rxBytes: rx, txBytes: tx });
            for (const d of s.io) {
              const dev = deviceName(d.device);
              for (const [key, add] of fs) add(d[key], ...l, dev);
            }
            processes(s.processes, ...l);
            if (s.threads !== undefined) threads(s.threads, ...l);
          } catch (err) {
            // Stopped since Docker was asked: its cgroup and /proc entries are gone, and it is simply not reported.
            places.delete(c.id);
            if (!isAbsent(err)) failure ??= err;
          }
        }
        for (const id of places.keys()) if (!seen.has(id)) places.delete(id);
        opts.onUse?.(used);
        if (failure !== undefined) throw failure;
      };
    },
  };
}
