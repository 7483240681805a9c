/**
 * The containers collector over recorded cgroup trees: v1 from this machine's
 * Docker (cgroupfs driver), v2 in the files of Linux 6.1 and 5.10 with the
 * systemd driver. cAdvisor's names, types and labels, and the values the
 * files hold, converted as cAdvisor converts them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { createMetricsCollector } from '../../../agent/collectors/registry.ts';
import {
  cpuWeightToShares, createContainerCollector, memoryLimit, parseBlkio, parseIoStat, parseProcCgroup, type RunningContainers,
} from '../../../agent/collectors/container-cgroups.ts';
import type { CollectedFamily } from '../../../agent/collectors/metric-writer.ts';

const tree = (name: string) => fileURLToPath(new URL(`../../fixtures/containers/${name}`, import.meta.url));
const V1_ID = 'ca34a59763dc3a07fa7980bf048f2c96c5538671eb9b6839d1a7126871eb4205';
const V2_A = '3f1c9a2e7b4d8c6e5a0f9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e';
const V2_B = '9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c';
const NOW = 1_796_000_000_000;

/** Collects over a tree and keys every series `name{label="value",...}` (labels in the family's order, empty ones left out). */
async function collect(root: string, containers: ReturnType<RunningContainers['running']>): Promise<{ series: Map<string, number>; families: Map<string, CollectedFamily> }> {
  const c = createMetricsCollector({ registry: [createContainerCollector({ containers: { running: () => containers } })], root, now: () => NOW });
  const all = await c.collect();
  const success = all.find((f) => f.name === 'node_scrape_collector_success')!;
  assert.equal(success.values, [1], 'the collector succeeds');
  const series = new Map<string, number>();
  const families = new Map<string, CollectedFamily>();
  for (const f of all) {
    if (f.name.startsWith('node_scrape_')) continue;
    families.set(f.name, f);
    const n = f.labels.length;
    f.values.forEach((v, i) => {
      const pairs = f.labels.map((l, j) => [l, f.labelValues[i * n + j]!] as const).filter(([, v2]) => v2 !== '');
      series.set(`${f.name}{${pairs.map(([l, v2]) => `${l}="${v2}"`).join(',')}}`, v);
    });
  }
  return { series, families };
}

test('parsers: /proc/PID/cgroup on v1, hybrid and v2; io.stat; blkio; weights; limits', () => {
  assert.equal(parseProcCgroup('0::/system.slice/docker-abc.scope\n'), { id: '/system.slice/docker-abc.scope', unified: '/system.slice/docker-abc.scope', controllers: new Map() });
  const hybrid = parseProcCgroup('12:cpu,cpuacct:/docker/x\n4:memory:/docker/x\n1:name=systemd:/docker/x\n0::/docker/x\n');
  assert.is(hybrid.id, '/docker/x');
  assert.is(hybrid.unified, undefined, 'a hybrid host keeps Docker\'s cgroups on v1');
  assert.equal([...hybrid.controllers.keys()].sort(), ['cpu', 'cpuacct', 'memory']);
  assert.equal(parseIoStat('8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n\n'), [{ device: '8:0', readBytes: 1, writeBytes: 2, reads: 3, writes: 4 }]);
  assert.equal(parseBlkio('8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n', '8:0 Read 1\n8:0 Write 2\n'), [{ device: '8:0', readBytes: 10, writeBytes: 20, reads: 1, writes: 2 }]);
  assert.equal(parseBlkio('Total 0\n', 'Total 0\n'), []);
  // Docker's default weight on v2 (100) and --cpu-shares 1024 (weight 39), as cAdvisor reports them back.
  assert.is(cpuWeightToShares(100), 2597);
  assert.is(cpuWeightToShares(39), 998);
  assert.is(cpuWeightToShares(0), 0);
  assert.is(memoryLimit('max\n'), 0);
  assert.is(memoryLimit('9223372036854771712\n'), 0, 'v1\'s "unlimited"');
  assert.is(memoryLimit('67108864\n'), 67108864);
});

test('cgroup v1 (cgroupfs driver): every family, cAdvisor\'s labels and the recorded values', async () => {
  const { series, families } = await collect(tree('cgroup-v1'), [{
    id: V1_ID, name: 'mt-cad', image: 'muster-test/busybox', pid: 30155, startedAt: 1_796_175_510_123,
    labels: { 'com.docker.compose.project': 'demo', 'com.docker.compose.service': 'cache', 'muster.test': '1' },
  }]);
  const l = `id="/docker/${V1_ID}",name="mt-cad",image="muster-test/busybox",container_label_com_docker_compose_project="demo",container_label_com_docker_compose_service="cache"`;
  const expect: Record<string, number> = {
    [`container_last_seen{${l}}`]: NOW / 1000,
    [`container_start_time_seconds{${l}}`]: 1_796_175_510,
    [`container_cpu_user_seconds_total{${l}}`]: 1.03,
    [`container_cpu_system_seconds_total{${l}}`]: 0.1,
    [`container_cpu_usage_seconds_total{${l},cpu="total"}`]: 1.132936068,
    [`container_cpu_cfs_periods_total{${l}}`]: 33,
    [`container_cpu_cfs_throttled_periods_total{${l}}`]: 12,
    [`container_cpu_cfs_throttled_seconds_total{${l}}`]: 0.204001244,
    [`container_spec_cpu_quota{${l}}`]: 50_000,
    [`container_spec_cpu_period{${l}}`]: 100_000,
    [`container_spec_cpu_shares{${l}}`]: 1024,
    [`container_spec_memory_limit_bytes{${l}}`]: 64 * 1024 * 1024,
    [`container_memory_cache{${l}}`]: 4096,
    [`container_memory_rss{${l}}`]: 118_784,
    [`container_memory_swap{${l}}`]: 0,
    [`container_memory_failcnt{${l}}`]: 0,
    [`container_memory_usage_bytes{${l}}`]: 565_248,
    [`container_memory_max_usage_bytes{${l}}`]: 3_788_800,
    [`container_memory_working_set_bytes{${l}}`]: 565_248,
    [`container_oom_events_total{${l}}`]: 0,
    [`container_network_receive_bytes_total{${l},interface="eth0"}`]: 1086,
    [`container_network_receive_packets_total{${l},interface="eth0"}`]: 13,
    [`container_network_receive_packets_dropped_total{${l},interface="eth0"}`]: 0,
    [`container_network_receive_errors_total{${l},interface="eth0"}`]: 0,
    [`container_network_transmit_bytes_total{${l},interface="eth0"}`]: 280,
    [`container_network_transmit_packets_total{${l},interface="eth0"}`]: 4,
    [`container_network_transmit_packets_dropped_total{${l},interface="eth0"}`]: 0,
    [`container_network_transmit_errors_total{${l},interface="eth0"}`]: 0,
    [`container_fs_reads_bytes_total{${l},device="/dev/vda"}`]: 4096,
    [`container_fs_reads_total{${l},device="/dev/vda"}`]: 1,
    [`container_fs_writes_bytes_total{${l},device="/dev/vda"}`]: 262_144,
    [`container_fs_writes_total{${l},device="/dev/vda"}`]: 64,
    [`container_processes{${l}}`]: 2,
    [`container_threads{${l}}`]: 2,
  };
  assert.equal(Object.fromEntries(series), expect);
  const counters = [...families.values()].filter((f) => f.type === 'counter').map((f) => f.name);
  assert.ok(counters.every((n) => n.endsWith('_total') || n === 'container_memory_failcnt'), 'counters are the _total families and failcnt');
  assert.equal(families.get('container_fs_reads_total')!.labels, ['id', 'name', 'image', 'container_label_com_docker_compose_project', 'container_label_com_docker_compose_service', 'container_label_muster_service', 'device']);
});

test('cgroup v2 (systemd driver): limits, throttling, peak, swap, OOM kills, devices; a host-network container without limits on 5.10', async () => {
  const { series } = await collect(tree('cgroup-v2'), [
    { id: V2_A, name: 'web', image: 'nginx:1.27', pid: 4242, startedAt: 1_795_000_000_000, labels: { 'muster.service': 'www' } },
    { id: V2_B, name: 'agent', image: 'example/agent:2', pid: 5151, labels: {} },
  ]);
  const a = `id="/system.slice/docker-${V2_A}.scope",name="web",image="nginx:1.27",container_label_muster_service="www"`;
  const b = `id="/system.slice/docker-${V2_B}.scope",name="agent",image="example/agent:2"`;
  const got = Object.fromEntries(series);
  const want: Record<string, number> = {
    [`container_cpu_usage_seconds_total{${a},cpu="total"}`]: 8.123456,
    [`container_cpu_user_seconds_total{${a}}`]: 6.001234,
    [`container_cpu_system_seconds_total{${a}}`]: 2.122222,
    [`container_cpu_cfs_periods_total{${a}}`]: 4521,
    [`container_cpu_cfs_throttled_periods_total{${a}}`]: 312,
    [`container_cpu_cfs_throttled_seconds_total{${a}}`]: 15.87321,
    [`container_spec_cpu_quota{${a}}`]: 150_000,
    [`container_spec_cpu_period{${a}}`]: 100_000,
    [`container_spec_cpu_shares{${a}}`]: 2597,
    [`container_spec_memory_limit_bytes{${a}}`]: 256 * 1024 * 1024,
    [`container_memory_usage_bytes{${a}}`]: 71_303_168,
    [`container_memory_max_usage_bytes{${a}}`]: 201_326_592,
    [`container_memory_working_set_bytes{${a}}`]: 71_303_168 - 12_582_912,
    [`container_memory_rss{${a}}`]: 41_943_040,
    [`container_memory_cache{${a}}`]: 25_165_824,
    [`container_memory_swap{${a}}`]: 1_048_576,
    [`container_memory_failcnt{${a}}`]: 17,
    [`container_oom_events_total{${a}}`]: 1,
    [`container_network_receive_bytes_total{${a},interface="eth0"}`]: 18_734_521,
    [`container_network_receive_errors_total{${a},interface="eth0"}`]: 2,
    [`container_network_receive_packets_dropped_total{${a},interface="eth0"}`]: 7,
    [`container_network_transmit_packets_dropped_total{${a},interface="eth0"}`]: 3,
    [`container_fs_reads_bytes_total{${a},device="/dev/sda"}`]: 1_048_576,
    [`container_fs_writes_total{${a},device="/dev/dm-0"}`]: 1024,
    [`container_processes{${a}}`]: 3,
    [`container_threads{${a}}`]: 7,
    [`container_start_time_seconds{${a}}`]: 1_795_000_000,
    [`container_spec_cpu_period{${b}}`]: 100_000,
    [`container_spec_cpu_shares{${b}}`]: 2597,
    [`container_spec_memory_limit_bytes{${b}}`]: 0,
    [`container_memory_swap{${b}}`]: 0,
    [`container_memory_working_set_bytes{${b}}`]: 9_437_184 - 1_048_576,
  };
  for (const [k, v] of Object.entries(want)) assert.is(got[k], v, k);
  // cAdvisor writes the CFS counters and the quota only for a container with a quota; a 5.10 kernel has no memory.peak.
  for (const f of ['container_cpu_cfs_periods_total', 'container_spec_cpu_quota', 'container_memory_max_usage_bytes', 'container_network_receive_bytes_total', 'container_fs_reads_total', 'container_start_time_seconds']) {
    assert.not.ok(Object.keys(got).some((k) => k.startsWith(`${f}{${b}`)), `${f} is not written for the container without it`);
  }
  assert.not.ok(Object.keys(got).some((k) => k.includes('interface="lo"') || k.includes('interface="docker0"')), 'loopback and host bridges are left out');
});

test('a container that stopped since Docker was asked is left out; the others are reported', async () => {
  const { series } = await collect(tree('cgroup-v2'), [
    { id: 'f'.repeat(64), name: 'gone', image: 'x', pid: 99999, labels: {} },
    { id: V2_B, name: 'agent', image: 'example/agent:2', pid: 5151, labels: {} },
  ]);
  assert.ok([...series.keys()].some((k) => k.includes('name="agent"')));
  assert.not.ok([...series.keys()].some((k) => k.includes('name="gone"')));
});

test('without Docker (no containers source) the collector writes nothing and succeeds', async () => {
  const c = createMetricsCollector({ registry: [createContainerCollector()], root: tree('cgroup-v1') });
  const all = await c.collect();
  assert.equal(all.map((f) => f.name), ['node_scrape_collector_duration_seconds', 'node_scrape_collector_success']);
  assert.equal(all[1]!.values, [1]);
});

test.run();
