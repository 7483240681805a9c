/**
 * The one list of metrics collectors: node_exporter 1.5's default Linux set
 * (by its names) and muster's own. Adding a collector is one file exporting
 * a CollectorSpec and one line here. Order is the order families are sent.
 *
 * node_exporter default collectors muster does not have yet (their families
 * appear only with that hardware or module): bcache, btrfs, fibrechannel,
 * infiniband, ipvs, nfs, nfsd, powersupplyclass, rapl, tapestats, xfs, zfs;
 * and timex, which needs the adjtimex(2) system call (see the README).
 */
import { arpCollector } from './arp.ts';
import { bondingCollector } from './bonding.ts';
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

/** Options of collectors that take some (node_exporter's flags of the same idea). */
export interface NodeCollectorOptions {
  filesystem?: FilesystemCollectorOptions;
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
  ];
}
