/**
 * Issue 16's promise for containers: the families the common Docker
 * dashboards query from cAdvisor, muster's /metrics has for every running
 * container, with cAdvisor's type and labels. A real busybox container with
 * `--memory 64m --cpus 0.5` beside a real agent and hub: every family of the
 * list is there for it, labelled `id` (its cgroup path, as cAdvisor names it
 * for Docker's cgroup driver), `name`, `image` and `instance`, and the spec
 * families hold the limits Docker was given.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { docker, dockerReady, removeTestContainers, TEST_IMAGE, TEST_LABEL } from '../helpers/docker.ts';
import { parseExposition } from '../helpers/node-exporter.ts';
import { joinToken, scrape, startAgentProcess, startHubProcess, waitFor } from '../helpers/processes.ts';

/** The families, their cAdvisor type and the labels cAdvisor adds to the container's (from cAdvisor's lib/metrics/prometheus.go). */
const FAMILIES: Record<string, [type: 'counter' | 'gauge', extra?: string]> = {
  container_cpu_usage_seconds_total: ['counter', 'cpu'],
  container_cpu_user_seconds_total: ['counter'],
  container_cpu_system_seconds_total: ['counter'],
  container_cpu_cfs_periods_total: ['counter'],
  container_cpu_cfs_throttled_periods_total: ['counter'],
  container_cpu_cfs_throttled_seconds_total: ['counter'],
  container_memory_rss: ['gauge'],
  container_memory_cache: ['gauge'],
  container_memory_swap: ['gauge'],
  container_memory_max_usage_bytes: ['gauge'],
  container_memory_failcnt: ['counter'],
  container_memory_working_set_bytes: ['gauge'],
  container_memory_usage_bytes: ['gauge'],
  container_oom_events_total: ['counter'],
  container_spec_cpu_quota: ['gauge'],
  container_spec_cpu_period: ['gauge'],
  container_spec_cpu_shares: ['gauge'],
  container_spec_memory_limit_bytes: ['gauge'],
  container_network_receive_bytes_total: ['counter', 'interface'],
  container_network_transmit_bytes_total: ['counter', 'interface'],
  container_network_receive_packets_total: ['counter', 'interface'],
  container_network_transmit_packets_total: ['counter', 'interface'],
  container_network_receive_errors_total: ['counter', 'interface'],
  container_network_transmit_errors_total: ['counter', 'interface'],
  container_network_receive_packets_dropped_total: ['counter', 'interface'],
  container_network_transmit_packets_dropped_total: ['counter', 'interface'],
  container_fs_reads_total: ['counter', 'device'],
  container_fs_writes_total: ['counter', 'device'],
  container_fs_reads_bytes_total: ['counter', 'device'],
  container_fs_writes_bytes_total: ['counter', 'device'],
  container_last_seen: ['gauge'],
  container_start_time_seconds: ['gauge'],
  container_processes: ['gauge'],
  container_threads: ['gauge'],
};

const CONTAINER_LABELS = ['container_label_com_docker_compose_project', 'container_label_com_docker_compose_service', 'container_label_muster_service', 'id', 'image', 'instance', 'name'];

/** The block device under Docker's data directory, for a write throttle (see below); undefined when it is not one. */
function dockerDisk(): string | undefined {
  try {
    const root = (execFileSync('docker', ['info', '--format', '{{.DockerRootDir}}'], { encoding: 'utf8' }).trim()) || '/var/lib/docker';
    const source = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '-T', root], { encoding: 'utf8' }).trim().replace(/\[.*\]$/, '');
    return source.startsWith('/dev/') ? source : undefined;
  } catch {
    return undefined;
  }
}

test('a busybox container with --memory and --cpus: every cAdvisor family of the list, its labels, its limits', async () => {
  if (!(await dockerReady())) return;
  const prefix = 'muster-t-cad-';
  await removeTestContainers(prefix);
  const name = `${prefix}${process.pid}`;
  const driver = await docker('info', '--format', '{{.CgroupDriver}}');
  // On cgroup v1, kernels since 5.x count a cgroup's block I/O in blk-throttle's files only on a device
  // that has a throttle (cAdvisor reads the same files); a throttle far above what the test writes turns it on.
  const v1 = (await docker('info', '--format', '{{.CgroupVersion}}')) === '1';
  const disk = dockerDisk();
  const throttle = v1 && disk ? ['--device-write-bps', `${disk}:1gb`, '--device-read-bps', `${disk}:1gb`] : [];
  const hub = await startHubProcess();
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'cad', interval: '2s' });
  try {
    const id = await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', 'com.docker.compose.project=mt', '-l', 'com.docker.compose.service=cad',
      '--memory', '64m', '--cpus', '0.5', ...throttle, TEST_IMAGE,
      'sh', '-c', 'dd if=/dev/zero of=/written bs=4k count=64 oflag=direct 2>/dev/null; sync; while :; do sleep 1; done');
    const mine = (l: string) => l.includes(`name="${name}"`);
    const families = await waitFor('every family of the list for the container on /metrics', async () => {
      const text = await scrape(hub);
      const lines = text.split('\n').filter((l) => l.startsWith('#') || (mine(l) && l.includes('instance="cad"')));
      const fams = parseExposition(lines.join('\n'));
      return Object.keys(FAMILIES).every((f) => fams.get(f)?.series.size) ? fams : undefined;
    }, 60_000, 500);

    const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', name));
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const cgroupPath = v1 ? /^\d+:(?:[^:]*,)?cpu(?:,[^:]*)?:(.*)$/m.exec(cgroup)![1]! : /^0::(.*)$/m.exec(cgroup)![1]!;
    assert.is(cgroupPath, driver === 'systemd' ? `/system.slice/docker-${id}.scope` : `/docker/${id}`, `the cgroup path for Docker's ${driver} driver`);

    const problems: string[] = [];
    for (const [family, [type, extra]] of Object.entries(FAMILIES)) {
      const f = families.get(family)!;
      if (f.type !== type) problems.push(`${family}: TYPE ${f.type}, cAdvisor's ${type}`);
      const want = [...CONTAINER_LABELS, ...(extra ? [extra] : [])].sort();
      for (const labels of f.series.keys()) {
        const got = [...labels.matchAll(/([a-z_]+)="/g)].map((m) => m[1]!).sort();
        if (got.join() !== want.join()) problems.push(`${family}{${labels}}: labels ${got.join()}, want ${want.join()}`);
        if (!labels.includes(`id="${cgroupPath}"`)) problems.push(`${family}{${labels}}: id is not ${cgroupPath}`);
        if (!labels.includes(`image="${TEST_IMAGE}"`)) problems.push(`${family}{${labels}}: image is not ${TEST_IMAGE}`);
        if (!labels.includes('container_label_com_docker_compose_service="cad"')) problems.push(`${family}{${labels}}: no compose service label`);
      }
    }
    assert.equal(problems, []);
    const value = (family: string) => [...families.get(family)!.series.values()][0];
    assert.is(value('container_spec_cpu_quota'), 50_000, '--cpus 0.5 is a quota of 50 ms');
    assert.is(value('container_spec_cpu_period'), 100_000, 'in periods of 100 ms');
    assert.is(value('container_spec_memory_limit_bytes'), 64 * 1024 * 1024, '--memory 64m');
    assert.is(value('container_spec_cpu_shares'), v1 ? 1024 : 2597, 'Docker\'s default shares (weight 100 on v2), as cAdvisor reports them');
    assert.ok(value('container_processes')! >= 2, 'sh and its sleep');
    assert.ok(value('container_threads')! >= value('container_processes')!);
    assert.ok([...families.get('container_fs_writes_bytes_total')!.series.values()].some((v) => v >= 64 * 4096), 'the direct write is counted');
    assert.ok(families.get('container_network_receive_packets_total')!.series.has(
      [...families.get('container_network_receive_packets_total')!.series.keys()].find((k) => k.includes('interface="eth0"')) ?? '-'), 'eth0 of the container');
  } finally {
    await docker('rm', '-f', name).catch(() => '');
    await agent.stop();
    await hub.stop();
  }
});

test.run();
