/**
 * A node at node_exporter parity, for benches: the generic metric families
 * (protocol 3) a muster agent ships for a host with `cpus` CPUs, `disks`
 * disks, `filesystems` mounts and `interfaces` network interfaces, named
 * and labelled as node_exporter 1.5's default Linux collectors do. At the
 * default shape (8 CPUs, 4 disks, 6 filesystems, 4 interfaces) that is
 * ~800 series; with what the hub derives from a node's containers, units
 * and processes, a node has 1,000-2,000 series, as the issue measured.
 *
 * `round` moves the values as between two intervals of a live host: every
 * counter grows, one gauge in three changes.
 */
import type { CollectedFamily } from '../agent/collectors/metric-writer.ts';

/** What the simulated host has. */
export interface ParityShape {
  cpus: number;
  disks: number;
  filesystems: number;
  interfaces: number;
}

export const DEFAULT_PARITY_SHAPE: ParityShape = { cpus: 8, disks: 4, filesystems: 6, interfaces: 4 };

const MEMINFO = ['Active', 'Active_anon', 'Active_file', 'AnonHugePages', 'AnonPages', 'Bounce', 'Buffers', 'Cached', 'CommitLimit', 'Committed_AS',
  'DirectMap1G', 'DirectMap2M', 'DirectMap4k', 'Dirty', 'FileHugePages', 'FilePmdMapped', 'HardwareCorrupted', 'HugePages_Free', 'HugePages_Rsvd',
  'HugePages_Surp', 'HugePages_Total', 'Hugepagesize', 'Hugetlb', 'Inactive', 'Inactive_anon', 'Inactive_file', 'KReclaimable', 'KernelStack',
  'Mapped', 'MemAvailable', 'MemFree', 'MemTotal', 'Mlocked', 'NFS_Unstable', 'PageTables', 'Percpu', 'SReclaimable', 'SUnreclaim', 'ShmemHugePages',
  'ShmemPmdMapped', 'Shmem', 'Slab', 'SwapCached', 'SwapFree', 'SwapTotal', 'Unevictable', 'VmallocChunk', 'VmallocTotal', 'VmallocUsed', 'Writeback',
  'WritebackTmp', 'Zswap', 'Zswapped'];
const NETSTAT = ['Icmp6_InErrors', 'Icmp6_InMsgs', 'Icmp6_OutMsgs', 'Icmp_InErrors', 'Icmp_InMsgs', 'Icmp_OutMsgs', 'Ip6_InOctets', 'Ip6_OutOctets',
  'IpExt_InOctets', 'IpExt_OutOctets', 'Ip_Forwarding', 'TcpExt_ListenDrops', 'TcpExt_ListenOverflows', 'TcpExt_SyncookiesFailed', 'TcpExt_SyncookiesRecv',
  'TcpExt_SyncookiesSent', 'TcpExt_TCPSynRetrans', 'TcpExt_TCPTimeouts', 'Tcp_ActiveOpens', 'Tcp_CurrEstab', 'Tcp_InErrs', 'Tcp_InSegs', 'Tcp_OutRsts',
  'Tcp_OutSegs', 'Tcp_PassiveOpens', 'Tcp_RetransSegs', 'Udp6_InDatagrams', 'Udp6_InErrors', 'Udp6_NoPorts', 'Udp6_OutDatagrams', 'Udp6_RcvbufErrors',
  'Udp6_SndbufErrors', 'UdpLite6_InErrors', 'UdpLite_InErrors', 'Udp_InDatagrams', 'Udp_InErrors', 'Udp_NoPorts', 'Udp_OutDatagrams', 'Udp_RcvbufErrors', 'Udp_SndbufErrors'];
const SOCKSTAT = ['FRAG6_inuse', 'FRAG6_memory', 'FRAG_inuse', 'FRAG_memory', 'RAW6_inuse', 'RAW_inuse', 'TCP6_inuse', 'TCP_alloc', 'TCP_inuse', 'TCP_mem',
  'TCP_mem_bytes', 'TCP_orphan', 'TCP_tw', 'UDP6_inuse', 'UDPLITE6_inuse', 'UDPLITE_inuse', 'UDP_inuse', 'UDP_mem', 'UDP_mem_bytes', 'sockets_used'];
const VMSTAT = ['oom_kill', 'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'pswpin', 'pswpout'];
const TIMEX = ['estimated_error_seconds', 'frequency_adjustment_ratio', 'loop_time_constant', 'maxerror_seconds', 'offset_seconds', 'pps_calibration_total',
  'pps_error_total', 'pps_frequency_hertz', 'pps_jitter_seconds', 'pps_jitter_total', 'pps_shift_seconds', 'pps_stability_exceeded_total',
  'pps_stability_hertz', 'status', 'sync_status', 'tai_offset_seconds', 'tick_seconds'];
const SCALARS = ['node_boot_time_seconds', 'node_context_switches_total', 'node_entropy_available_bits', 'node_entropy_pool_size_bits', 'node_filefd_allocated',
  'node_filefd_maximum', 'node_forks_total', 'node_intr_total', 'node_load1', 'node_load15', 'node_load5', 'node_procs_blocked', 'node_procs_running',
  'node_nf_conntrack_entries', 'node_nf_conntrack_entries_limit', 'node_time_seconds', 'node_time_zone_offset_seconds', 'node_pressure_cpu_waiting_seconds_total',
  'node_pressure_io_stalled_seconds_total', 'node_pressure_io_waiting_seconds_total', 'node_pressure_memory_stalled_seconds_total',
  'node_pressure_memory_waiting_seconds_total', 'node_reboot_required', 'node_selinux_enabled', 'node_textfile_scrape_error'];
const DISK = ['discard_time_seconds_total', 'discarded_sectors_total', 'discards_completed_total', 'discards_merged_total', 'flush_requests_time_seconds_total',
  'flush_requests_total', 'io_now', 'io_time_seconds_total', 'io_time_weighted_seconds_total', 'read_bytes_total', 'read_time_seconds_total',
  'reads_completed_total', 'reads_merged_total', 'write_time_seconds_total', 'writes_completed_total', 'writes_merged_total', 'written_bytes_total'];
const NETDEV = ['receive_bytes_total', 'receive_compressed_total', 'receive_drop_total', 'receive_errs_total', 'receive_fifo_total', 'receive_frame_total',
  'receive_multicast_total', 'receive_packets_total', 'transmit_bytes_total', 'transmit_carrier_total', 'transmit_colls_total', 'transmit_compressed_total',
  'transmit_drop_total', 'transmit_errs_total', 'transmit_fifo_total', 'transmit_packets_total'];
const NETCLASS = ['address_assign_type', 'carrier', 'carrier_changes_total', 'carrier_down_changes_total', 'carrier_up_changes_total', 'device_id',
  'dormant', 'flags', 'iface_id', 'iface_link', 'iface_link_mode', 'mtu_bytes', 'name_assign_type', 'net_dev_group', 'protocol_type',
  'speed_bytes', 'transmit_queue_length', 'up'];
const COLLECTORS = ['arp', 'bcache', 'bonding', 'btrfs', 'conntrack', 'cpu', 'cpufreq', 'diskstats', 'dmi', 'edac', 'entropy', 'fibrechannel', 'filefd',
  'filesystem', 'hwmon', 'infiniband', 'ipvs', 'loadavg', 'mdadm', 'meminfo', 'netclass', 'netdev', 'netstat', 'nfs', 'nfsd', 'nvme', 'os', 'powersupplyclass',
  'pressure', 'rapl', 'schedstat', 'selinux', 'sockstat', 'softnet', 'stat', 'tapestats', 'textfile', 'thermal_zone', 'time', 'timex', 'udp_queues', 'uname', 'vmstat', 'xfs', 'zfs'];
const CPU_MODES = ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user'];

/** The families of node `node` at interval `round`. */
export function parityFamilies(node: number, round: number, shape: ParityShape = DEFAULT_PARITY_SHAPE): CollectedFamily[] {
  const out: CollectedFamily[] = [];
  let k = 0;
  const fam = (name: string, type: 'counter' | 'gauge', labels: string[], rows: string[][]) => {
    const values = rows.map(() => {
      k++;
      return type === 'counter' ? 1000 * (node + 1) + k * 7 + round * (k % 13 + 1) : k % 3 === round % 3 ? k + round : k;
    });
    out.push({ name, type, help: `${name} (bench)`, labels, labelValues: rows.flat(), values });
  };
  const n = <T>(count: number, f: (i: number) => T): T[] => Array.from({ length: count }, (_, i) => f(i));
  const cpus = n(shape.cpus, String);
  const disks = n(shape.disks, (i) => `nvme0n${i + 1}`);
  const ifaces = ['lo', 'eth0', 'docker0', ...n(Math.max(0, shape.interfaces - 3), (i) => `veth${i}`)].slice(0, shape.interfaces);
  const mounts = ['/', '/boot', '/boot/efi', '/srv', '/var/lib/docker', '/home', ...n(Math.max(0, shape.filesystems - 6), (i) => `/mnt/d${i}`)].slice(0, shape.filesystems);

  fam('node_cpu_seconds_total', 'counter', ['cpu', 'mode'], cpus.flatMap((c) => CPU_MODES.map((m) => [c, m])));
  fam('node_cpu_guest_seconds_total', 'counter', ['cpu', 'mode'], cpus.flatMap((c) => [[c, 'nice'], [c, 'user']]));
  for (const f of ['node_cpu_scaling_frequency_hertz', 'node_cpu_scaling_frequency_max_hertz', 'node_cpu_scaling_frequency_min_hertz']) fam(f, 'gauge', ['cpu'], cpus.map((c) => [c]));
  for (const f of ['node_schedstat_running_seconds_total', 'node_schedstat_timeslices_total', 'node_schedstat_waiting_seconds_total']) fam(f, 'counter', ['cpu'], cpus.map((c) => [c]));
  for (const f of ['dropped', 'flow_limit_count', 'processed', 'received_rps', 'times_squeezed']) fam(`node_softnet_${f}_total`, 'counter', ['cpu'], cpus.map((c) => [c]));
  for (const f of DISK) fam(`node_disk_${f}`, f.endsWith('_total') ? 'counter' : 'gauge', ['device'], disks.map((d) => [d]));
  fam('node_disk_info', 'gauge', ['device', 'major', 'minor', 'path', 'wwn', 'model', 'serial', 'revision'], disks.map((d, i) => [d, '259', String(i), `pci-0000:01:00.0-nvme-${i + 1}`, '', 'Samsung SSD 980 PRO 1TB', `S5GXNF0R${node}${i}`, '5B2QGXA7']));
  for (const f of ['avail_bytes', 'device_error', 'files', 'files_free', 'free_bytes', 'readonly', 'size_bytes']) {
    fam(`node_filesystem_${f}`, 'gauge', ['device', 'fstype', 'mountpoint'], mounts.map((m, i) => [`/dev/nvme0n1p${i + 1}`, i === 2 ? 'vfat' : 'ext4', m]));
  }
  for (const f of NETDEV) fam(`node_network_${f}`, 'counter', ['device'], ifaces.map((d) => [d]));
  for (const f of NETCLASS) fam(`node_network_${f}`, f.endsWith('_total') ? 'counter' : 'gauge', ['device'], ifaces.map((d) => [d]));
  fam('node_network_info', 'gauge', ['address', 'adminstate', 'broadcast', 'device', 'duplex', 'ifalias', 'operstate'],
    ifaces.map((d, i) => [`02:42:ac:11:00:${i.toString(16).padStart(2, '0')}`, 'up', 'ff:ff:ff:ff:ff:ff', d, 'full', '', 'up']));
  for (const f of MEMINFO) fam(`node_memory_${f}_bytes`, 'gauge', [], [[]]);
  for (const f of VMSTAT) fam(`node_vmstat_${f}`, 'gauge', [], [[]]);
  for (const f of NETSTAT) fam(`node_netstat_${f}`, 'gauge', [], [[]]);
  for (const f of SOCKSTAT) fam(`node_sockstat_${f}`, 'gauge', [], [[]]);
  for (const f of TIMEX) fam(`node_timex_${f}`, f.endsWith('_total') ? 'counter' : 'gauge', [], [[]]);
  for (const f of SCALARS) fam(f, f.endsWith('_total') ? 'counter' : 'gauge', [], [[]]);
  fam('node_hwmon_temp_celsius', 'gauge', ['chip', 'sensor'], ['platform_coretemp_0', 'nvme_nvme0'].flatMap((c) => n(4, (i) => [c, `temp${i + 1}`])));
  fam('node_hwmon_temp_crit_celsius', 'gauge', ['chip', 'sensor'], ['platform_coretemp_0', 'nvme_nvme0'].flatMap((c) => n(4, (i) => [c, `temp${i + 1}`])));
  fam('node_hwmon_chip_names', 'gauge', ['chip', 'chip_name'], [['platform_coretemp_0', 'coretemp'], ['nvme_nvme0', 'nvme']]);
  fam('node_thermal_zone_temp', 'gauge', ['type', 'zone'], [['acpitz', '0'], ['x86_pkg_temp', '1']]);
  fam('node_uname_info', 'gauge', ['domainname', 'machine', 'nodename', 'release', 'sysname', 'version'], [['(none)', 'x86_64', `node-${node}`, '6.1.0-28-amd64', 'Linux', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1']]);
  fam('node_os_info', 'gauge', ['build_id', 'id', 'id_like', 'image_id', 'image_version', 'name', 'pretty_name', 'variant', 'variant_id', 'version', 'version_codename', 'version_id'],
    [['', 'debian', '', '', '', 'Debian GNU/Linux', 'Debian GNU/Linux 12 (bookworm)', '', '', '12 (bookworm)', 'bookworm', '12']]);
  fam('node_scrape_collector_duration_seconds', 'gauge', ['collector'], COLLECTORS.map((c) => [c]));
  fam('node_scrape_collector_success', 'gauge', ['collector'], COLLECTORS.map((c) => [c]));
  return out;
}
