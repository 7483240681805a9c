/**
 * Logs end to end with real parts: the bundled agent reading real Docker
 * containers, a real hub, the strict Loki stand-in, and the muster CLI.
 *
 * - A container prints 600 numbered lines while Loki is down and the agent
 *   is SIGKILLed halfway: after the restart and Loki's return all 600 are in
 *   Loki, in order, none missing (a few repeated at the seam at most).
 * - `muster logs SERVICE` merges a service's instances on two nodes in
 *   time order, prefixed with node and instance, and --follow goes on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, CLI, joinToken, scrape, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';
import { docker, dockerReady, removeTestContainers, TEST_IMAGE, TEST_LABEL } from '../helpers/docker.ts';
import { startLokiStandIn, type LokiStandIn } from '../helpers/loki.ts';

const PREFIX = `muster-t-logs-${process.pid}`;
let hub: HubProc | undefined;
let loki: LokiStandIn | undefined;
const agents: AgentProc[] = [];

/** Numbers of the `line N` entries, in the order given. */
const numbers = (lines: string[]) => lines.map((l) => /^line (\d+)$/.exec(l)?.[1]).filter((n): n is string => n !== undefined).map(Number);

test.after(async () => {
  for (const a of agents) await a.stop('SIGKILL').catch(() => undefined);
  await hub?.stop();
  await loki?.close();
  await removeTestContainers(PREFIX);
});

test('600 numbered lines while Loki is down and the agent is SIGKILLed: all 600 reach Loki, in order', async () => {
  if (!(await dockerReady())) return;
  const started = Date.now();
  loki = await startLokiStandIn();
  await loki.down();
  hub = await startHubProcess({ dns: 'off', args: ['--loki', loki.url, '--loki-batch-wait', '100ms', '--loki-max-backoff', '1s'] });
  const token = await joinToken(hub);
  const stateDir = tempDir('logs-agent');
  const name = `${PREFIX}-n1`;
  let agent = startAgentProcess({ hub: hub.url, join: token, name, stateDir });
  agents.push(agent);
  await waitFor('the node online', async () => (await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${name}`)).body.online, 20_000);

  const container = `${PREFIX}-count`;
  await docker('run', '-d', '--name', container, '-l', TEST_LABEL, TEST_IMAGE, 'sh', '-c',
    'i=1; while [ $i -le 600 ]; do echo "line $i"; i=$((i+1)); sleep 0.02; done; sleep 3600');
  const hubLines = async () => {
    const r = await api(hub!.url, hub!.adminToken, `/api/v1/logs?node=${name}&container=${container}&limit=5000`);
    return numbers((r.body.lines ?? []).map((l: { line: string }) => l.line));
  };
  await waitFor('some lines at the hub', async () => (await hubLines()).length >= 100, 30_000, 200);
  await agent.stop('SIGKILL');
  // The container goes on printing while no agent reads it.
  await new Promise((r) => setTimeout(r, 2_000));
  agent = startAgentProcess({ hub: hub.url, name, stateDir });
  agents.push(agent);
  const atHub = await waitFor('all 600 at the hub', async () => {
    const n = await hubLines();
    return new Set(n).size === 600 ? n : undefined;
  }, 60_000, 500);
  const seam = atHub.length - 600;
  assert.ok(seam <= 5, `${seam} lines repeated at the seam`);
  assert.equal([...new Set(atHub)].sort((a, b) => a - b), Array.from({ length: 600 }, (_, i) => i + 1));
  assert.ok(loki.pushes.length === 0, 'nothing reached Loki while it was down');

  await loki.up();
  const inLoki = await waitFor('all 600 in Loki', () => {
    const n = numbers(loki!.entries({ container }).map((e) => e.line));
    return new Set(n).size === 600 ? n : undefined;
  }, 30_000, 200);
  assert.equal(inLoki.filter((n, i) => i > 0 && n < inLoki[i - 1]!), [], 'in order');
  const entries = loki.entries({ container });
  const labels = entries[0]!.labels;
  assert.equal(Object.keys(labels).sort(), ['container', 'instance', 'job', 'service_name']);
  assert.equal(labels, { container, instance: name, job: 'docker', service_name: container });
  assert.is(entries[0]!.meta.stream, 'stdout');
  assert.match(entries[0]!.meta.container_id!, /^[0-9a-f]{64}$/);
  assert.ok(loki.pushes.every((p) => p.status === 204), JSON.stringify(loki.pushes.filter((p) => p.status !== 204).slice(0, 3)));
  const metrics = await scrape(hub);
  assert.match(metrics, /^muster_logs_received_lines_total \d+/m);
  assert.match(metrics, new RegExp(`^muster_logs_spooled_lines\\{target="${loki.url.replace(/[.]/g, '\\.')}/loki/api/v1/push"\\} 0$`, 'm'));
  // Its work is done; left running it would read the next test's containers too, as a third node.
  await agent.stop();
  process.stdout.write(`  [600 lines, a SIGKILL and a Loki outage: ${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
});

test('muster logs SERVICE merges its instances on two nodes in time order; --follow goes on', async () => {
  if (!hub) return;
  const started = Date.now();
  const service = `${PREFIX}-merge`;
  const token = await joinToken(hub);
  // Two agents on one machine read the same Docker: each leaves the other's container alone, as two nodes would.
  const [a, b] = ['a', 'b'].map((x) => `${PREFIX}-node-${x}`);
  const ca = `${PREFIX}-mc-a`;
  const cb = `${PREFIX}-mc-b`;
  for (const [node, other] of [[a, cb], [b, ca]] as const) {
    const p = startAgentProcess({ hub: hub.url, join: token, name: node!, args: ['--logs-exclude', other!, '--logs-exclude', `${PREFIX}-count`] });
    agents.push(p);
  }
  await waitFor('both nodes online', async () => {
    const nodes = (await api(hub!.url, hub!.adminToken, '/api/v1/nodes')).body.nodes as { name: string; online: boolean }[];
    return [a, b].every((n) => nodes.some((x) => x.name === n && x.online));
  }, 20_000);
  // One `docker run` takes a second or two here: both containers wait at a gate opened once both run, so B's
  // lines fall 0.1 s after A's and the two interleave, however long the second start took.
  const gate = tempDir('logs-gate');
  for (const [c, tag, delay] of [[ca, 'A', '0'], [cb, 'B', '0.1']] as const) {
    await docker('run', '-d', '--name', c, '-l', TEST_LABEL, '-l', `muster.service=${service}`, '-v', `${gate}:/gate:ro`, TEST_IMAGE, 'sh', '-c',
      `while [ ! -e /gate/go ]; do sleep 0.02; done; sleep ${delay}; i=1; while [ $i -le 10 ]; do echo "${tag} $i"; i=$((i+1)); sleep 0.2; done; sleep 3600`);
  }
  writeFileSync(join(gate, 'go'), '');
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'logs', ...args, '--hub', hub!.url, '--token', hub!.adminToken, '--ca-file', hub!.caFile!], { encoding: 'utf8', timeout: 30_000 });
  const out = await waitFor('20 lines from both nodes', () => {
    const r = cli(service);
    return r.stdout.split('\n').filter(Boolean).length >= 20 ? r.stdout : undefined;
  }, 30_000, 500);
  const lines = out.split('\n').filter(Boolean);
  assert.ok(lines.some((l) => l.startsWith(`${a}/${ca}`) && l.endsWith('| A 1')), out);
  assert.ok(lines.some((l) => l.startsWith(`${b}/${cb}`) && l.endsWith('| B 1')), out);
  // Merged in time order: the two containers' lines interleave as they were printed.
  const tags = lines.map((l) => l.split('| ')[1]!);
  assert.equal(tags.filter((t) => t.startsWith('A')), Array.from({ length: 10 }, (_, i) => `A ${i + 1}`));
  assert.equal(tags.filter((t) => t.startsWith('B')), Array.from({ length: 10 }, (_, i) => `B ${i + 1}`));
  assert.is(tags[0], 'A 1');
  assert.is(tags[1], 'B 1', `interleaved in time order: ${tags.join(', ')}`);
  const json = JSON.parse(cli(service, '--json', '--tail', '1').stdout.trim()) as { node: string; service: string; time: string };
  assert.is(json.service, service);
  assert.match(json.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.is(cli(service, '--grep', 'B 1\\d').stdout.trim().split('\n').length, 1, 'B 10 alone');
  const bad = cli(service, '--grep', '(a+)+$');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /MUSTER_ERR_BAD_REQUEST/);

  // --follow: the backlog, then what comes next.
  const follow = spawn(process.execPath, [CLI, 'logs', service, '-f', '--tail', '2', '--hub', hub.url, '--token', hub.adminToken, '--ca-file', hub.caFile!], { stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follow.stdout.on('data', (d: Buffer) => { followed += d.toString(); });
  try {
    await waitFor('the backlog', () => followed.split('\n').filter(Boolean).length >= 2, 10_000, 50);
    await docker('exec', ca, 'sh', '-c', 'echo "A late" > /proc/1/fd/1');
    await waitFor('the new line', () => followed.includes('| A late'), 15_000, 50);
  } finally {
    follow.kill('SIGINT');
  }
  const viewer = await api(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'viewer', label: 'reader' } });
  assert.is(viewer.status, 201, JSON.stringify(viewer.body));
  assert.is((await api(hub.url, viewer.body.token, `/api/v1/logs?service=${service}`)).status, 200, 'a viewer reads logs');
  assert.is((await api(hub.url, hub.adminToken, '/api/v1/logs?node=nosuch')).body.error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  assert.is((await api(hub.url, hub.adminToken, '/api/v1/logs')).body.error.code, 'MUSTER_ERR_BAD_REQUEST');
  process.stdout.write(`  [two nodes merged and followed: ${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
});

test.run();
