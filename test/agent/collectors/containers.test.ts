import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ASK_UNREACHABLE_EVERY_READS, createContainerReader, LIST_EVERY_QUIET_READS, toContainerInfo, toContainerUse, type DockerInspect, type DockerStats } from '../../../agent/collectors/containers.ts';
import { createDockerClient, type DockerClient } from '../../../agent/docker-client.ts';
import { createContainerCollector, type ContainerCgroupUse } from '../../../agent/collectors/container-cgroups.ts';
import { createMetricsCollector } from '../../../agent/collectors/registry.ts';
import { ROOT, freePort, tempDir, waitFor } from '../../helpers/processes.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../../helpers/docker.ts';

const fixture = <T>(name: string) => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/docker', name), 'utf8')) as T;

test('a running container: name, image, labels, compose project, published ports, pid', () => {
  const c = toContainerInfo(fixture<DockerInspect>('inspect-running.json'), undefined);
  assert.is(c.name, 'mt-web');
  assert.is(c.image, 'muster-test/busybox');
  assert.ok(c.imageId.startsWith('sha256:'));
  assert.is(c.state, 'running');
  assert.is(c.health, 'none');
  assert.is(c.exitCode, undefined, 'a running container has no exit code');
  assert.is(c.command, 'httpd -f -p 8080 -h /www');
  assert.equal(c.ports, [{ containerPort: 8080, protocol: 'tcp', hostPort: 18080, hostIp: '127.0.0.1' }]);
  assert.is(c.labels['muster.service'], 'web');
  assert.is(c.composeProject, 'demo');
  assert.is(c.composeService, 'webby');
  assert.ok(c.pid > 0);
  assert.ok(c.startedAt! > Date.parse('2020-01-01'));
  assert.is(c.finishedAt, undefined, 'Docker writes 0001-01-01 for "never"');
});

test('secrets in a container\'s command and labels never leave the node', () => {
  const ins = fixture<DockerInspect>('inspect-running.json');
  const c = toContainerInfo({
    ...ins, Path: 'redis-server', Args: ['--requirepass', 'hunter2', '--replicaof', 'redis://:hunter3@primary:6379'],
    Config: { ...ins.Config, Labels: { ...ins.Config?.Labels, 'backup.password': 'hunter4' } },
  }, undefined);
  assert.is(c.command, 'redis-server --requirepass <redacted> --replicaof redis://:<redacted>@primary:6379');
  assert.is(c.labels['backup.password'], '<redacted>');
  assert.is(c.labels['muster.service'], 'web');
  assert.not.ok(JSON.stringify(c).includes('hunter'));
});

test('an exited container keeps its exit code and finish time, and no pid', () => {
  const c = toContainerInfo(fixture<DockerInspect>('inspect-exited.json'), 'repo@sha256:abc');
  assert.is(c.state, 'exited');
  assert.is(c.exitCode, 3);
  assert.is(c.pid, 0);
  // Docker stamps a container that exits at once as finished ~1 ms before it started; both are there.
  assert.ok(Math.abs(c.finishedAt! - c.startedAt!) < 1_000);
  assert.is(c.digest, 'repo@sha256:abc');
  assert.equal(c.ports, []);
});

test('a health-checked container reports its health, restart policy and both address families', () => {
  const c = toContainerInfo(fixture<DockerInspect>('inspect-healthy.json'), undefined);
  assert.is(c.health, 'healthy');
  assert.is(c.restartPolicy, 'unless-stopped');
  assert.ok(c.ports.length >= 1);
  assert.ok(c.ports.every((p) => p.hostPort === 18081 && p.containerPort === 8080));
});

test('stats become counters: CPU seconds, working set without inactive file cache, network bytes', () => {
  const stats = fixture<DockerStats>('stats-cgroup1.json');
  const u = toContainerUse('abc', stats, 256 * 1024 * 1024);
  assert.is(u.cpuSeconds, stats.cpu_stats!.cpu_usage!.total_usage! / 1e9);
  assert.is(u.memoryBytes, stats.memory_stats!.usage);
  assert.is(u.workingSetBytes, stats.memory_stats!.usage! - (stats.memory_stats!.stats!['total_inactive_file'] ?? 0));
  assert.is(u.memoryLimitBytes, 256 * 1024 * 1024);
  assert.ok(u.rxBytes > 0);
  // cgroup v2 names the field inactive_file.
  const v2 = toContainerUse('abc', { memory_stats: { usage: 1000, stats: { inactive_file: 300 } } }, undefined);
  assert.is(v2.workingSetBytes, 700);
  assert.is(v2.memoryLimitBytes, undefined);
});

test('no Docker Engine at the socket: unavailable with the reason, no throw', async () => {
  const reader = createContainerReader({ docker: createDockerClient({ socketPath: join(tempDir('nodocker'), 'docker.sock') }) });
  const r = await reader.read();
  reader.close();
  assert.is(r.ok, false);
  if (!r.ok) assert.match(r.reason, /not reachable.*ENOENT/);
});

test('real Docker: a started container is read with its port and label, events report start, stop and removal at once', async () => {
  if (!(await dockerReady())) return;
  const prefix = 'muster-t-cr-';
  await removeTestContainers(prefix);
  const name = `${prefix}${process.pid}`;
  let changes = 0;
  const reader = createContainerReader({ docker: createDockerClient(), onChange: () => { changes++; } });
  try {
    await reader.read(); // subscribes to events
    const port = await freePort();
    const id = await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', 'muster.service=cr-web',
      '-p', `127.0.0.1:${port}:8080`, TEST_IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www');
    await waitFor('a Docker event for the start', () => changes > 0, 5_000, 20);
    let r = await reader.read();
    assert.ok(r.ok);
    let c = r.ok ? r.containers.find((x) => x.id === id) : undefined;
    assert.ok(c, 'the new container is listed');
    assert.is(c!.state, 'running');
    assert.is(c!.labels['muster.service'], 'cr-web');
    assert.equal(c!.ports.filter((p) => p.hostPort === port).length, 1);
    // Its use comes from a one-shot stats call made beside a read, reported by
    // the read after; on a loaded machine Docker may answer that call late or
    // without memory figures once, so allow a few rounds.
    const used = await waitFor('use of the running container', async () => {
      await reader.settled();
      const next = await reader.read();
      return next.ok && next.use.some((u) => u.id === id && u.memoryBytes > 0 && u.cpuSeconds >= 0) ? next : undefined;
    }, 15_000, 200);
    assert.ok(used.ok && used.use.find((u) => u.id === id)!.memoryBytes > 0, 'use of the running container arrives');

    const before = changes;
    await docker('stop', '-t', '1', name);
    await waitFor('a Docker event for the stop', () => changes > before, 5_000, 20);
    r = await reader.read();
    c = r.ok ? r.containers.find((x) => x.id === id) : undefined;
    assert.is(c?.state, 'exited');
    assert.ok(c?.exitCode !== undefined);

    const beforeRm = changes;
    await docker('rm', name);
    await waitFor('a Docker event for the removal', () => changes > beforeRm, 5_000, 20);
    r = await reader.read();
    assert.ok(r.ok && !r.containers.some((x) => x.id === id), 'a removed container is gone');
  } finally {
    reader.close();
    await docker('rm', '-f', name).catch(() => '');
  }
});

/** The real Docker client, keeping the path of every GET it is asked. */
function countingDocker(socketPath?: string): { docker: DockerClient; asked: string[] } {
  const real = createDockerClient(socketPath === undefined ? {} : { socketPath });
  const asked: string[] = [];
  return { docker: { ...real, get: <T>(path: string) => { asked.push(path); return real.get<T>(path); } }, asked };
}

test('an unreachable Engine is not asked again while its socket file stays as it was; a new socket is asked at once', async () => {
  const dir = tempDir('deaddocker');
  const path = join(dir, 'docker.sock');
  const { docker: counted, asked } = countingDocker(path);
  const reader = createContainerReader({ docker: counted });
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url?.startsWith('/containers/json') ? '[]' : '{}');
  });
  try {
    // No socket at all (Docker not installed): asked once.
    for (let i = 0; i < 3; i++) {
      const r = await reader.read();
      assert.is(r.ok, false);
      if (!r.ok) assert.match(r.reason, /not reachable.*ENOENT/);
    }
    assert.is(asked.length, 1);
    // A socket file left behind by a daemon that stopped: connecting is refused. Asked once more, then not while it stays.
    writeFileSync(path, '');
    for (let i = 0; i < 3; i++) {
      const r = await reader.read();
      if (!r.ok) assert.match(r.reason, /not reachable.*ECONNREFUSED/);
    }
    assert.is(asked.length, 2);
    // ... except every so many reads, whatever the file.
    for (let i = 0; i < ASK_UNREACHABLE_EVERY_READS; i++) await reader.read();
    assert.is(asked.length, 3);
    // A daemon that starts binds a new socket: the next read asks, and reads it.
    rmSync(path);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const r = await reader.read();
    assert.is(asked.length, 4);
    assert.equal(r, { ok: true, containers: [], use: [] });
  } finally {
    reader.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('real Docker: while the event stream is up and quiet, reads reuse the container list, and ask again after an event or every few reads', async () => {
  if (!(await dockerReady())) return;
  const prefix = 'muster-t-crq-';
  await removeTestContainers(prefix);
  const name = `${prefix}${process.pid}`;
  const { docker: counted, asked } = countingDocker();
  const lists = () => asked.filter((p) => p.startsWith('/containers/json')).length;
  let changes = 0;
  const reader = createContainerReader({ docker: counted, onChange: () => { changes++; } });
  try {
    await reader.read(); // lists, then subscribes to events
    await reader.read(); // lists once more: the stream may have started after the list
    assert.is(lists(), 2);
    for (let i = 1; i < LIST_EVERY_QUIET_READS; i++) assert.ok((await reader.read()).ok);
    assert.is(lists(), 2, 'quiet reads reuse the list');
    assert.ok((await reader.read()).ok);
    assert.is(lists(), 3, 'and the list is asked again every few reads');

    const id = await docker('run', '-d', '--name', name, '-l', TEST_LABEL, TEST_IMAGE, 'sleep', '300');
    await waitFor('a Docker event for the start', () => changes > 0, 5_000, 20);
    const r = await reader.read();
    assert.is(lists(), 4, 'an event makes the next read ask');
    await waitFor('the container listed as running', async () => {
      const next = await reader.read();
      return next.ok && next.containers.find((c) => c.id === id)?.state === 'running';
    }, 10_000, 50);
    assert.ok(r.ok);
    // Once Docker's events for the start have all come, reads are quiet again.
    await waitFor('a read that reuses the list', async () => {
      const n = lists();
      await reader.read();
      return lists() === n;
    }, 10_000, 100);
  } finally {
    reader.close();
    await docker('rm', '-f', name).catch(() => '');
  }
});

test('real Docker: with the cAdvisor collector\'s cgroup readings, a container\'s use needs no stats request to Docker', async () => {
  if (!(await dockerReady())) return;
  const prefix = 'muster-t-cru-';
  await removeTestContainers(prefix);
  const name = `${prefix}${process.pid}`;
  const { docker: counted, asked } = countingDocker();
  let latest: ReadonlyMap<string, ContainerCgroupUse> = new Map();
  const reader = createContainerReader({ docker: counted, cgroupUse: () => latest });
  const metrics = createMetricsCollector({ registry: [createContainerCollector({ containers: reader, onUse: (u) => { latest = u; } })] });
  try {
    const id = await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '--memory', '64m', TEST_IMAGE, 'sh', '-c', 'x=$(head -c 2000000 /dev/zero | tr "\\0" a); sleep 300');
    const use = await waitFor('the container\'s use from its cgroup', async () => {
      await reader.read();
      await metrics.collect();
      const r = await reader.read();
      return r.ok ? r.use.find((u) => u.id === id && u.memoryBytes > 0) : undefined;
    }, 15_000, 200);
    assert.is(use.memoryLimitBytes, 64 * 1024 * 1024);
    assert.ok(use.workingSetBytes > 0 && use.workingSetBytes <= use.memoryBytes, JSON.stringify(use));
    assert.ok(use.cpuSeconds > 0, 'it ran');
    assert.ok(use.rxBytes >= 0 && use.txBytes >= 0);
    assert.not.ok(asked.some((p) => p.includes('/stats')), `no stats request: ${asked.join(', ')}`);
  } finally {
    reader.close();
    await docker('rm', '-f', name).catch(() => '');
  }
});

test.run();
