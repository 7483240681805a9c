/**
 * Made-up but realistic hosts for the ingest bench: the facts, samples and
 * workloads a real agent would send from a Raspberry Pi, a small VM, a
 * container host or a desktop (2-8 CPUs, a few filesystems and interfaces,
 * counters that grow, 30-180 processes; see simulated-workloads.ts).
 * The shapes are the protocol's TypeBox types, and `assertValidFrames` checks
 * the frames with the decoder the hub itself uses.
 */
import {
  MUSTER_VERSION,
  type AddressFact, type AgentMessage, type Decoder, type CpuTimes, type FilesystemUse, type HostFacts, type NetworkUse, type SampleData, type Temperature,
} from '../protocol/index.ts';
import { createSimulatedWorkloads, type SimulatedWorkloads, type WorkloadShape } from './simulated-workloads.ts';

/** One simulated node. */
export interface SimulatedHost {
  name: string;
  machineId: string;
  facts: HostFacts;
  /** The next sample, with every counter advanced by `elapsedSeconds` of plausible use. */
  nextSample(elapsedSeconds: number): SampleData;
  workloads: SimulatedWorkloads;
}

/** A small deterministic PRNG (mulberry32), so host N looks the same in every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Profile {
  arch: string;
  platform: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  swapGiB: number;
  filesystems: { mountpoint: string; device: string; fstype: string; sizeGiB: number }[];
  interfaces: string[];
  sensors: string[];
  workloads: WorkloadShape;
}

const GiB = 1024 ** 3;

/** Four kinds of small-fleet machine; the index picks one and varies it a little. */
function profileOf(index: number, random: () => number): Profile {
  switch (index % 4) {
    case 0:
      return {
        arch: 'arm64', platform: 'linux/arm64', cpuModel: 'Cortex-A76', cpus: 4, memoryGiB: 8, swapGiB: 0.5,
        filesystems: [
          { mountpoint: '/', device: '/dev/mmcblk0p2', fstype: 'ext4', sizeGiB: 58 },
          { mountpoint: '/boot/firmware', device: '/dev/mmcblk0p1', fstype: 'vfat', sizeGiB: 0.5 },
        ],
        interfaces: ['lo', 'eth0', 'wlan0'],
        sensors: ['thermal/cpu-thermal/0'],
        workloads: { processes: 35, units: 30, containers: 0, ports: [22, 8123] },
      };
    case 1:
      return {
        arch: 'amd64', platform: 'linux/amd64', cpuModel: 'QEMU Virtual CPU version 2.5+', cpus: 2, memoryGiB: 4, swapGiB: 1,
        filesystems: [
          { mountpoint: '/', device: '/dev/vda1', fstype: 'ext4', sizeGiB: 40 },
          { mountpoint: '/boot/efi', device: '/dev/vda15', fstype: 'vfat', sizeGiB: 0.12 },
        ],
        interfaces: ['lo', 'ens3'],
        sensors: [],
        workloads: { processes: 30, units: 25, containers: 0, ports: [22, 80, 443] },
      };
    case 2: {
      const veths = 1 + Math.floor(random() * 3);
      return {
        arch: 'amd64', platform: 'linux/amd64', cpuModel: 'Intel(R) Core(TM) i7-8700T CPU @ 2.40GHz', cpus: 8, memoryGiB: 32, swapGiB: 2,
        filesystems: [
          { mountpoint: '/', device: '/dev/nvme0n1p2', fstype: 'ext4', sizeGiB: 237 },
          { mountpoint: '/boot/efi', device: '/dev/nvme0n1p1', fstype: 'vfat', sizeGiB: 0.5 },
          { mountpoint: '/srv/data', device: '/dev/sda1', fstype: 'xfs', sizeGiB: 3726 },
        ],
        interfaces: ['lo', 'enp3s0', 'docker0', ...Array.from({ length: veths }, (_, i) => `veth${(index * 7919 + i).toString(16).padStart(7, '0')}`)],
        sensors: ['hwmon/coretemp/temp1', 'hwmon/coretemp/temp2', 'hwmon/nvme/temp1'],
        workloads: { processes: 80, units: 40, containers: 6, ports: [22, 8080, 3000, 9090, 5432, 6379] },
      };
    }
    default:
      return {
        arch: 'amd64', platform: 'linux/amd64', cpuModel: 'AMD Ryzen 5 5600G with Radeon Graphics', cpus: 6, memoryGiB: 16, swapGiB: 2,
        filesystems: [
          { mountpoint: '/', device: '/dev/nvme0n1p2', fstype: 'ext4', sizeGiB: 468 },
          { mountpoint: '/boot/efi', device: '/dev/nvme0n1p1', fstype: 'vfat', sizeGiB: 0.5 },
          { mountpoint: '/home', device: '/dev/nvme0n1p3', fstype: 'btrfs', sizeGiB: 1397 },
        ],
        interfaces: ['lo', 'enp5s0', 'wlp4s0'],
        sensors: ['hwmon/k10temp/temp1'],
        workloads: { processes: 180, units: 60, containers: 0, ports: [22, 631] },
      };
  }
}

/** Rounds to hundredths, like counters read in USER_HZ ticks. */
const centi = (x: number) => Math.round(x * 100) / 100;

/** Creates simulated host number `index` (0-based). */
export function createSimulatedHost(index: number, namePrefix = 'sim'): SimulatedHost {
  const random = seededRandom(index + 1);
  const p = profileOf(index, random);
  const name = `${namePrefix}-${String(index).padStart(5, '0')}`;
  const machineId = (index.toString(16).padStart(8, '0') + 'b3c4d5e6f708192a3b4c5d6e').slice(0, 32);
  const bootTime = Math.floor(Date.now() / 1000) - Math.floor(86_400 * (1 + random() * 60));
  const uptime = Date.now() / 1000 - bootTime;

  const busy = 0.02 + random() * 0.3; // share of each CPU in use
  const cpu: CpuTimes[] = Array.from({ length: p.cpus }, (_, i) => ({
    cpu: String(i),
    user: centi(uptime * busy * 0.7), nice: centi(uptime * 0.001), system: centi(uptime * busy * 0.25),
    idle: centi(uptime * (1 - busy)), iowait: centi(uptime * 0.004), irq: 0, softirq: centi(uptime * busy * 0.05), steal: 0,
  }));
  const totalBytes = p.memoryGiB * GiB - 180 * 1024 ** 2;
  const filesystems: FilesystemUse[] = p.filesystems.map((f) => {
    const size = Math.round(f.sizeGiB * GiB / 4096) * 4096;
    const free = Math.round(size * (0.2 + random() * 0.7) / 4096) * 4096;
    const files = Math.round(size / 16384);
    return {
      mountpoint: f.mountpoint, device: f.device, fstype: f.fstype, sizeBytes: size, freeBytes: free,
      availBytes: f.fstype === 'ext4' ? Math.max(0, free - Math.round(size * 0.05)) : free,
      files: f.fstype === 'vfat' ? 0 : files, filesFree: f.fstype === 'vfat' ? 0 : Math.round(files * 0.9),
    };
  });
  const network: NetworkUse[] = p.interfaces.map((iface) => {
    const rx = Math.round(uptime * (iface === 'lo' ? 2_000 : 40_000) * (0.5 + random()));
    const tx = Math.round(rx * (0.1 + random() * 0.5));
    return {
      iface, rxBytes: rx, txBytes: tx, rxPackets: Math.round(rx / 900), txPackets: Math.round(tx / 700),
      rxErrors: 0, txErrors: 0, rxDropped: iface === 'lo' ? 0 : Math.round(random() * 50), txDropped: 0,
    };
  });
  const temperatures: Temperature[] = p.sensors.map((sensor) => ({ sensor, celsius: 38 + Math.round(random() * 200) / 10 }));
  const addresses: AddressFact[] = p.interfaces.flatMap((iface, i): AddressFact[] => iface === 'lo'
    ? [{ iface, family: 4, address: '127.0.0.1', internal: true }, { iface, family: 6, address: '::1', internal: true }]
    : i === 1
      ? [{ iface, family: 4, address: `10.${(index >> 8) & 255}.${index & 255}.${10 + i}`, mac: `02:00:00:${(index >> 8 & 255).toString(16).padStart(2, '0')}:${(index & 255).toString(16).padStart(2, '0')}:0${i}`, internal: false }]
      : []);
  let load1 = busy * p.cpus;

  const facts: HostFacts = {
    hostname: name,
    machineId,
    os: { id: 'debian', name: 'Debian GNU/Linux', version: '12 (bookworm)', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    kernel: p.arch === 'arm64' ? '6.6.51+rpt-rpi-2712' : '6.1.0-26-amd64',
    arch: p.arch,
    platform: p.platform,
    cpu: { model: p.cpuModel, cores: p.cpus },
    memoryBytes: totalBytes,
    swapBytes: p.swapGiB * GiB,
    filesystems: filesystems.map((f) => ({ mountpoint: f.mountpoint, device: f.device, fstype: f.fstype, sizeBytes: f.sizeBytes })),
    addresses,
    bootTime,
    rebootRequired: index % 11 === 0,
    rebootRequiredPackages: index % 11 === 0 ? ['linux-image-6.1.0-27-amd64'] : [],
    agentVersion: MUSTER_VERSION,
    runtime: 'node v18.19.0',
    labels: { group: ['edge', 'lab', 'compute', 'storage'][index % 4]! },
    unavailable: [],
  };

  const host: SimulatedHost = {
    name,
    machineId,
    facts,
    workloads: createSimulatedWorkloads(index, p.workloads, bootTime, random),
    nextSample(elapsed) {
      for (const c of cpu) {
        const b = busy * (0.5 + random());
        c.user = centi(c.user + elapsed * b * 0.7);
        c.system = centi(c.system + elapsed * b * 0.25);
        c.softirq = centi(c.softirq + elapsed * b * 0.05);
        c.iowait = centi(c.iowait + elapsed * 0.004 * random());
        c.idle = centi(c.idle + elapsed * Math.max(0, 1 - b));
      }
      for (const n of network) {
        const rx = Math.round(elapsed * (n.iface === 'lo' ? 2_000 : 40_000) * random());
        const tx = Math.round(rx * 0.3);
        n.rxBytes += rx; n.txBytes += tx;
        n.rxPackets += Math.ceil(rx / 900); n.txPackets += Math.ceil(tx / 700);
      }
      for (const f of filesystems) {
        const delta = Math.round((random() - 0.5) * 4) * 4096 * 256;
        f.freeBytes = Math.min(f.sizeBytes, Math.max(0, f.freeBytes + delta));
        f.availBytes = Math.min(f.sizeBytes, Math.max(0, f.availBytes + delta));
      }
      for (const t of temperatures) t.celsius = Math.round((t.celsius + (random() - 0.5)) * 10) / 10;
      load1 = Math.max(0, load1 + (random() - 0.5) * 0.2);
      const available = Math.round(totalBytes * (0.4 + random() * 0.1));
      return {
        cpu: cpu.map((c) => ({ ...c })),
        load: [centi(load1), centi(load1 * 0.9), centi(load1 * 0.8)],
        memory: {
          totalBytes, availableBytes: available, freeBytes: Math.round(available * 0.3), buffersBytes: 120 * 1024 ** 2,
          cachedBytes: Math.round(available * 0.6), swapTotalBytes: p.swapGiB * GiB, swapFreeBytes: p.swapGiB * GiB,
        },
        filesystems: filesystems.map((f) => ({ ...f })),
        network: network.map((n) => ({ ...n })),
        temperatures: temperatures.map((t) => ({ ...t })),
        unavailable: [],
      };
    },
  };
  return host;
}

/**
 * Throws unless the host's facts, samples and workloads frames pass `decode`
 * (createAgentMessageDecoder(), as the hub uses). Advances the host's counters once.
 */
export function assertValidFrames(host: SimulatedHost, decode: Decoder<AgentMessage>): void {
  const frames: AgentMessage[] = [
    { type: 'facts', facts: host.facts },
    { type: 'samples', samples: [{ seq: 1, ts: Date.now(), data: host.nextSample(10) }], dropped: 0 },
    host.workloads.snapshot(1, Date.now()),
  ];
  const delta = host.workloads.nextDelta(10, Date.now());
  if (delta) frames.push(delta);
  for (const frame of frames) {
    const r = decode(JSON.stringify(frame));
    if (!r.ok) throw new Error(`simulated host ${host.name} builds an invalid ${frame.type} frame: ${r.reason}`);
  }
}
