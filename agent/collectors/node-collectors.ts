/**
 * The one list of metrics collectors: node_exporter 1.5's default Linux set
 * (by its names), cAdvisor's container families, process-exporter's group
 * families, and muster's own. Adding a collector is one file exporting
 * a CollectorSpec and one line here. Order is the order families are sent.
 *
 * node_exporter's default collectors muster does not have are in
 * MISSING_COLLECTORS, each with the reason.
 */
import { arpCollector } from './arp.ts';
import { bondingCollector } from './bonding.ts';
import { createContainerCollector, type ContainerCollectorOptions } from './container-cgroups.ts';
import { conntrackCollector } from './conntrack.ts';
import { cpuCollector } from './cpu.ts';
import { cpufreqCollector } from './cpufreq.ts';
import { diskstatsCollector } from './diskstats.ts';
import { dmiCollector } from './dmi.ts';
import { edacCollector } from './edac.ts';
import { entropyCollector } from './entropy.ts';
import { filefdCollector } from './filefd.ts';
import { createFilesystemCollector, type FilesystemCollectorOptions } from './filesystems.ts';
import { hwmonCollector } from './hwmon.ts';
import { loadavgCollector } from './loadavg.ts';
import { mdadmCollector } from './mdadm.ts';
import { meminfoCollector } from './meminfo.ts';
import { netclassCollector } from './netclass.ts';
import { netdevCollector } from './net-dev.ts';
import { netstatCollector } from './netstat.ts';
import { nvmeCollector } from './nvme.ts';
import { osCollector } from './os-release.ts';
import { pressureCollector } from './pressure.ts';
import { createProcessGroupsCollector, type ProcessGroupsOptions } from './process-groups.ts';
import { rebootRequiredCollector } from './reboot-required.ts';
import type { CollectorSpec } from './registry.ts';
import { schedstatCollector } from './schedstat.ts';
import { selinuxCollector } from './selinux.ts';
import { sockstatCollector } from './sockstat.ts';
import { softnetCollector } from './softnet.ts';
import { statCollector } from './stat.ts';
import { textfileCollector } from './textfile.ts';
import { thermalZoneCollector } from './thermal-zone.ts';
import { timeCollector } from './time.ts';
import { udpQueuesCollector } from './udp-queues.ts';
import { unameCollector } from './uname.ts';
import { vmstatCollector } from './vmstat.ts';

/**
 * node_exporter 1.5's default Linux collectors muster does not have, the
 * prefix of the families they write, and why. The parity tests skip those
 * families and their node_scrape_collector_success series, and fail on any
 * other family node_exporter has and muster lacks.
 */
export const MISSING_COLLECTORS: Readonly<Record<string, { families: string; reason: string }>> = Object.freeze({
  timex: { families: 'node_timex_', reason: 'adjtimex(2) is a system call; the agent is one JavaScript file with no native module and spawns nothing per sample' },
  bcache: { families: 'node_bcache_', reason: 'not yet: bcache caching devices are rare in small fleets; its families appear only with /sys/fs/bcache' },
  btrfs: { families: 'node_btrfs_', reason: 'not yet: its families appear only with a mounted btrfs filesystem' },
  fibrechannel: { families: 'node_fibrechannel_', reason: 'not yet: Fibre Channel HBAs only' },
  infiniband: { families: 'node_infiniband_', reason: 'not yet: InfiniBand HCAs only' },
  ipvs: { families: 'node_ipvs_', reason: 'not yet: only with IPVS load balancing (/proc/net/ip_vs)' },
  nfs: { families: 'node_nfs_', reason: 'not yet: only with NFS client mounts (/proc/net/rpc/nfs)' },
  nfsd: { families: 'node_nfsd_', reason: 'not yet: only on an NFS server (/proc/net/rpc/nfsd)' },
  powersupplyclass: { families: 'node_power_supply_', reason: 'not yet: batteries and UPSes in /sys/class/power_supply' },
  rapl: { families: 'node_rapl_', reason: 'not yet: Intel/AMD RAPL energy counters (root-readable /sys/class/powercap)' },
  tapestats: { families: 'node_tape_', reason: 'not yet: tape drives only' },
  xfs: { families: 'node_xfs_', reason: 'not yet: its families appear only with a mounted XFS filesystem' },
  zfs: { families: 'node_zfs', reason: 'not yet: its families appear only with the ZFS module loaded' },
});

/** Options of collectors that take some (node_exporter's flags of the same idea). */
export interface NodeCollectorOptions {
  filesystem?: FilesystemCollectorOptions;
  containers?: ContainerCollectorOptions;
  processGroups?: ProcessGroupsOptions;
}

/** Every collector the agent has, on or off. */
export function nodeCollectors(opts: NodeCollectorOptions = {}): CollectorSpec[] {
  return [
    arpCollector,
    bondingCollector,
    conntrackCollector,
    cpuCollector,
    cpufreqCollector,
    diskstatsCollector,
    dmiCollector,
    edacCollector,
    entropyCollector,
    filefdCollector,
    createFilesystemCollector(opts.filesystem),
    hwmonCollector,
    loadavgCollector,
    mdadmCollector,
    meminfoCollector,
    netclassCollector,
    netdevCollector,
    netstatCollector,
    nvmeCollector,
    osCollector,
    pressureCollector,
    schedstatCollector,
    selinuxCollector,
    sockstatCollector,
    softnetCollector,
    statCollector,
    textfileCollector,
    thermalZoneCollector,
    timeCollector,
    udpQueuesCollector,
    unameCollector,
    vmstatCollector,
    rebootRequiredCollector,
    createContainerCollector(opts.containers),
    createProcessGroupsCollector(opts.processGroups),
  ];
}
