/**
 * The agent's host collectors: what a node is (facts) and what it uses (samples),
 * read straight from /proc, /sys and /etc. Nothing here spawns a process.
 */
import * as os from 'node:os';
import type { HostFacts, SampleData, Unavailable } from '../../protocol/messages.ts';
import { toAddressFacts } from './addresses.ts';
import { archFacts } from './arch.ts';
import { readCpuinfo } from './cpuinfo.ts';
import { createFilesystemReader } from './filesystems.ts';
import { readLoadavg } from './loadavg.ts';
import { readMachineId } from './machine-id.ts';
import { readMeminfo } from './meminfo.ts';
import { readNetDev } from './net-dev.ts';
import { readOsRelease } from './os-release.ts';
import { readProcStat } from './proc-stat.ts';
import { attempt, MAX_REASON, truncate } from './read.ts';
import { readRebootRequired } from './reboot-required.ts';
import { createTemperatureReader } from './thermal.ts';
import { readHostname, readKernelRelease } from './uname.ts';
import { byCodeUnit } from '../compare.ts';

/** Options for {@link createCollectors}. */
export interface CollectorsOptions {
  /** Filesystem root the host files are read under; default '/'. Tests point it at a fixture tree. */
  root?: string;
  /** The node's muster name; the host name of last resort, when /proc/sys/kernel/hostname is unreadable under a non-'/' root. */
  name: string;
  /** Operator-given labels, passed through to the facts. */
  labels: Record<string, string>;
  /** Version of the running agent, reported in the facts. */
  agentVersion: string;
  /** The runtime's `process.arch`; default the real one. Tests set it to pose as another machine. */
  arch?: string;
}

/** Reads a node's facts and samples. Every call re-reads the host; nothing throws for a missing source. */
export interface Collectors {
  /** What the node is; sent on connect and when it changes. */
  facts(): Promise<HostFacts>;
  /** What the node uses right now; counters are cumulative since boot. */
  sample(): Promise<SampleData>;
}

/** List caps from protocol/messages.ts: longer lists are cut, and the cut reported, so the hub never rejects a frame. */
const LIMITS = { cpu: 1024, filesystems: 256, network: 512, temperatures: 256, addresses: 512, packages: 1024, unavailable: 64 };

/**
 * Creates the host collectors. A collector that fails (file missing, no
 * permission, unparseable) adds an `unavailable` entry named after its module
 * and leaves a neutral value (0, '', []) in its place; the rest still report.
 */
export function createCollectors(opts: CollectorsOptions): Collectors {
  const root = opts.root ?? '/';
  const onHost = root === '/';
  const nodeArch = opts.arch ?? process.arch;
  const nodeArmVersion = (process.config.variables as Record<string, unknown>)['arm_version'];
  const filesystems = createFilesystemReader({ root });
  const temperatures = createTemperatureReader({ root });

  /** Cuts a list to the protocol's cap and says so. */
  function cap<T>(list: T[], max: number, collector: string, what: string, unavailable: Unavailable[]): T[] {
    if (list.length <= max) return list;
    unavailable.push({ collector, reason: `${list.length} ${what}, only the first ${max} reported` });
    return list.slice(0, max);
  }

  return {
    async facts() {
      const unavailable: Unavailable[] = [];
      const [hostname, machineId, osRelease, kernel, cpuinfo, stat, mem, fs, addresses, reboot] = await Promise.all([
        // On the real host uname(2) is a fine second source; under a fixture root it would leak the test machine.
        attempt('uname', unavailable, onHost ? os.hostname() : opts.name, () => readHostname(root)),
        attempt('machine-id', unavailable, '', () => readMachineId(root)),
        attempt('os-release', unavailable, { id: 'linux', name: 'Linux', version: '', prettyName: 'Linux' }, () => readOsRelease(root)),
        attempt('uname', unavailable, onHost ? os.release() : '', () => readKernelRelease(root)),
        attempt('cpuinfo', unavailable, { model: undefined, armVariant: undefined }, () => readCpuinfo(root)),
        attempt('proc-stat', unavailable, { cpus: [], bootTime: undefined }, () => readProcStat(root)),
        attempt('meminfo', unavailable, undefined, () => readMeminfo(root)),
        attempt('filesystems', unavailable, { filesystems: [], failures: [] }, () => filesystems.read()),
        attempt('addresses', unavailable, [], async () => toAddressFacts(os.networkInterfaces())),
        attempt('reboot-required', unavailable, { required: false, packages: [] }, () => readRebootRequired(root)),
      ]);
      if (stat.cpus.length > 0 && stat.bootTime === undefined) {
        unavailable.push({ collector: 'proc-stat', reason: 'no btime line in /proc/stat' });
      }
      reportFailures('filesystems', fs.failures, unavailable);
      const { arch, platform } = archFacts(nodeArch, cpuinfo.armVariant, typeof nodeArmVersion === 'number' || typeof nodeArmVersion === 'string' ? String(nodeArmVersion) : undefined);
      const facts: HostFacts = {
        hostname: truncate(hostname, 256),
        machineId: truncate(machineId, 128),
        os: {
          id: truncate(osRelease.id, 64),
          name: truncate(osRelease.name, 256),
          version: truncate(osRelease.version, 256),
          prettyName: truncate(osRelease.prettyName, 256),
        },
        kernel: truncate(kernel, 256),
        arch,
        platform,
        cpu: { model: truncate(cpuinfo.model ?? 'unknown', 256), cores: stat.cpus.length },
        memoryBytes: mem?.totalBytes ?? 0,
        swapBytes: mem?.swapTotalBytes ?? 0,
        filesystems: cap(fs.filesystems, LIMITS.filesystems, 'filesystems', 'filesystems', unavailable).map((f) => ({
          mountpoint: truncate(f.mountpoint, 1024), device: truncate(f.device, 1024), fstype: truncate(f.fstype, 64), sizeBytes: f.sizeBytes,
        })),
        addresses: cap(addresses, LIMITS.addresses, 'addresses', 'addresses', unavailable),
        bootTime: stat.bootTime ?? 0,
        rebootRequired: reboot.required,
        rebootRequiredPackages: cap(reboot.packages, LIMITS.packages, 'reboot-required', 'packages', unavailable).map((p) => truncate(p, 256)),
        agentVersion: truncate(opts.agentVersion, 64),
        runtime: `node ${process.version}`,
        labels: { ...opts.labels },
        unavailable: [],
      };
      facts.unavailable = finish(unavailable);
      return facts;
    },

    async sample() {
      const unavailable: Unavailable[] = [];
      const [stat, load, memory, fs, network, temps] = await Promise.all([
        attempt('proc-stat', unavailable, { cpus: [], bootTime: undefined }, () => readProcStat(root)),
        attempt('loadavg', unavailable, [0, 0, 0] as [number, number, number], () => readLoadavg(root)),
        attempt('meminfo', unavailable, {
          totalBytes: 0, availableBytes: 0, freeBytes: 0, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0,
        }, () => readMeminfo(root)),
        attempt('filesystems', unavailable, { filesystems: [], failures: [] }, () => filesystems.read()),
        attempt('net-dev', unavailable, [], () => readNetDev(root)),
        attempt('thermal', unavailable, { temperatures: [], failures: [] }, () => temperatures.read()),
      ]);
      reportFailures('filesystems', fs.failures, unavailable);
      reportFailures('thermal', temps.failures, unavailable);
      return {
        cpu: cap(stat.cpus, LIMITS.cpu, 'proc-stat', 'CPUs', unavailable),
        load,
        memory,
        filesystems: cap(fs.filesystems, LIMITS.filesystems, 'filesystems', 'filesystems', unavailable).map((f) => ({
          ...f, mountpoint: truncate(f.mountpoint, 1024), device: truncate(f.device, 1024), fstype: truncate(f.fstype, 64),
        })),
        network: cap(network, LIMITS.network, 'net-dev', 'interfaces', unavailable).map((n) => ({ ...n, iface: truncate(n.iface, 64) })),
        temperatures: cap(temps.temperatures, LIMITS.temperatures, 'thermal', 'sensors', unavailable)
          .map((t) => ({ ...t, sensor: truncate(t.sensor, 128) })),
        unavailable: finish(unavailable),
      };
    },
  };
}

/** Partial failures inside one collector become one entry, not one per mount or sensor. */
function reportFailures(collector: string, failures: string[], unavailable: Unavailable[]): void {
  if (failures.length > 0) unavailable.push({ collector, reason: truncate(failures.join('; '), MAX_REASON) });
}

/** Collectors finish in any order; sorting keeps consecutive frames comparable. */
function finish(unavailable: Unavailable[]): Unavailable[] {
  return unavailable
    .map((u) => ({ collector: truncate(u.collector, 64), reason: truncate(u.reason, MAX_REASON) }))
    .sort((a, b) => byCodeUnit(a.collector, b.collector) || byCodeUnit(a.reason, b.reason))
    .slice(0, LIMITS.unavailable);
}
