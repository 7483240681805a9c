/**
 * End to end over real parts: a hub, the bundled agent, the real Docker
 * Engine and a real listening process. What runs on the node shows up as
 * services within seconds, `muster where` finds it, and changes are events.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CLI, api, freePort, joinToken, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import type { ServiceView } from '../../hub/routes/workloads.ts';

const execFileP = promisify(execFile);
const PREFIX = 'muster-t-e2e-';

let hub: HubProc | undefined;
let agent: AgentProc | undefined;
let ready = false;

async function muster(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args, '--hub', hub!.url, '--token', hub!.adminToken, '--ca-file', hub!.caFile!], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function service(name: string): Promise<ServiceView | undefined> {
  const r = await api<ServiceView>(hub!.url, hub!.adminToken, `/api/v1/services/${encodeURIComponent(name)}`);
  return r.status === 200 ? r.body : undefined;
}

test.before(async () => {
  ready = await dockerReady();
  if (!ready) return;
  await removeTestContainers(PREFIX);
  hub = await startHubProcess();
  agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'e2e-node', interval: '1s' });
  await waitFor('the node to report its workloads', async () => {
    const r = await api(hub!.url, hub!.adminToken, '/api/v1/nodes/e2e-node/processes');
    return r.status === 200 && r.body.processes.length > 0;
  }, 20_000);
});

test.after(async () => {
  await removeTestContainers(PREFIX);
  await agent?.stop();
  await hub?.stop();
});

test('a container with a published port and a muster.service label becomes a service instance within 5 s; stopped and removed likewise', async () => {
  if (!ready) return;
  const name = `${PREFIX}web-${process.pid}`;
  const svc = `e2e-shop-${process.pid}`;
  const port = await freePort();
  const started = Date.now();
  await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', `muster.service=${svc}`,
    '-p', `127.0.0.1:${port}:8080`, TEST_IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www');
  // Docker creates, then starts: the agent may report the container once while it is only "created".
  const s = await waitFor('the container as a running service instance', async () => {
    const v = await service(svc);
    return v?.instances[0]?.state === 'running' ? v : undefined;
  }, 15_000, 100);
  const appearedMs = Date.now() - started;
  const inst = s.instances[0]!;
  assert.is(inst.node, 'e2e-node');
  assert.is(inst.kind, 'container');
  assert.is(inst.name, name);
  assert.is(inst.state, 'running');
  assert.is(inst.image, TEST_IMAGE);
  assert.equal(inst.ports.map((p) => `${p.address}:${p.port}->${p.containerPort}/${p.protocol}`), [`127.0.0.1:${port}->8080/tcp`]);
  assert.ok(inst.healthy);
  assert.is(s.dnsName, `${svc}.service.internal`);
  assert.ok(appearedMs < 5_000, `appeared after ${appearedMs} ms`);

  const where = await muster('where', svc);
  assert.is(where.code, 0, where.stderr);
  assert.match(where.stdout, new RegExp(`e2e-node\\s+container ${name}\\s+running`));
  assert.match(where.stdout, new RegExp(`127\\.0\\.0\\.1:${port}->8080/tcp`));
  assert.match(where.stdout, /image\s+muster-test\/busybox/);
  assert.match(where.stdout, /e2e-node\.node\.internal/);

  await docker('stop', '-t', '1', name);
  const stopped = Date.now();
  await waitFor('the instance marked stopped', async () => (await service(svc))?.instances[0]?.state === 'exited', 15_000, 100);
  assert.ok(Date.now() - stopped < 5_000, `marked stopped ${Date.now() - stopped} ms after docker stop returned`);
  assert.is((await service(svc))!.running, 0);

  await docker('rm', name);
  await waitFor('the removed container to disappear', async () => (await service(svc)) === undefined, 5_000, 100);

  const ev = await api<{ events: { kind: string; subject: string }[] }>(hub!.url, hub!.adminToken, '/api/v1/events?kind=container&limit=50');
  const kinds = ev.body.events.filter((e) => e.subject === name).map((e) => e.kind).reverse();
  assert.equal(kinds, ['container.started', 'container.stopped', 'container.removed']);
  const cli = await muster('events', '--kind', 'container', '--json');
  assert.is(cli.code, 0);
  assert.ok((JSON.parse(cli.stdout) as { events: { subject: string }[] }).events.some((e) => e.subject === name));
});

test('a container that exits non-zero by itself died; one stopped by docker stop was stopped, even killed with 137', async () => {
  if (!ready) return;
  const name = `${PREFIX}crash-${process.pid}`;
  await docker('run', '-d', '--name', name, '-l', TEST_LABEL, TEST_IMAGE, 'sh', '-c', 'sleep 1; exit 3');
  const died = await waitFor('a died event', async () => {
    const r = await api<{ events: { kind: string; subject: string; detail: { exitCode: number } }[] }>(hub!.url, hub!.adminToken, '/api/v1/events?kind=container.died');
    return r.body.events.find((e) => e.subject === name);
  }, 8_000, 200);
  assert.is(died.detail.exitCode, 3);
  const s = await service(name);
  assert.is(s?.instances[0]?.exitCode, 3);
  assert.is(s?.instances[0]?.healthy, false);
  await docker('rm', name);
});

test('a real process listening on a port becomes a process service with that port; it goes when the process ends', async () => {
  if (!ready) return;
  const dir = tempDir('listener');
  const script = join(dir, `e2e-listener-${process.pid}.js`);
  writeFileSync(script, `require('node:net').createServer(() => {}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));\n`);
  const port = await freePort();
  const child = spawn(process.execPath, [script, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const svc = `e2e-listener-${process.pid}`;
  try {
    const s = await waitFor('the listening process as a service', () => service(svc), 5_000, 100);
    const inst = s.instances[0]!;
    assert.is(inst.kind, 'process');
    assert.is(inst.pid, child.pid);
    assert.equal(inst.ports, [{ port, protocol: 'tcp', address: '127.0.0.1' }]);
    assert.match(inst.command ?? '', new RegExp(`${svc}\\.js ${port}$`));

    const where = await muster('where', svc);
    assert.is(where.code, 0, where.stderr);
    assert.match(where.stdout, new RegExp(`e2e-node\\s+process node\\s+running.*pid ${child.pid}`));
    assert.match(where.stdout, new RegExp(`tcp 127\\.0\\.0\\.1:${port}`));

    const ps = await muster('ps', '--node', 'e2e-node');
    assert.is(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, new RegExp(`${child.pid}\\s.*tcp/${port}`));
  } finally {
    child.kill();
  }
  await waitFor('the process service to go', async () => (await service(svc)) === undefined, 5_000, 100);
  const ev = await api<{ events: { kind: string; detail: { port: number } }[] }>(hub!.url, hub!.adminToken, '/api/v1/events?kind=port&limit=100');
  const mine = ev.body.events.filter((e) => e.detail.port === port).map((e) => e.kind).reverse();
  assert.equal(mine, ['port.opened', 'port.closed']);
});

test('an unknown name is a clear "no service named X" with close matches, exit code 1', async () => {
  if (!ready) return;
  const svc = `e2e-typo-${process.pid}`;
  const name = `${PREFIX}typo-${process.pid}`;
  await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', `muster.service=${svc}`, TEST_IMAGE, 'sleep', '300');
  await waitFor('the service', () => service(svc), 5_000, 100);
  const typo = svc.slice(0, -1);
  const r = await muster('where', typo);
  assert.is(r.code, 1);
  assert.match(r.stderr, new RegExp(`no service named '${typo}'; did you mean: .*${svc}`));
  const j = await muster('where', typo, '--json');
  assert.is(j.code, 1);
  assert.ok((JSON.parse(j.stdout) as { error: { suggestions: string[] } }).error.suggestions.includes(svc));
  const apiRes = await api(hub!.url, hub!.adminToken, `/api/v1/services/${typo}`);
  assert.is(apiRes.status, 404);
  assert.is(apiRes.body.error.code, 'MUSTER_ERR_SERVICE_NOT_FOUND');
  await docker('rm', '-f', name);
});

test('muster services and ps --json list what the API lists', async () => {
  if (!ready) return;
  const services = await muster('services', '--json');
  assert.is(services.code, 0);
  const list = JSON.parse(services.stdout) as { services: ServiceView[] };
  assert.ok(Array.isArray(list.services));
  const ps = await muster('ps', '--node', 'e2e-node', '--json');
  assert.is(ps.code, 0);
  const body = JSON.parse(ps.stdout) as { processes: { processes: { pid: number }[] }; containers: { collector: string } };
  assert.ok(body.processes.processes.some((p) => p.pid === agent!.child.pid), 'the agent sees itself');
  assert.is(body.containers.collector, 'ok');
  const missing = await muster('ps', '--node', 'no-such-node');
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /no node named 'no-such-node'/);
});

test.run();
