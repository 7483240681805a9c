import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createWorkloadStore } from '../../hub/workload-store.ts';
import { createInventory } from '../../hub/inventory.ts';
import { createHubMetrics } from '../../hub/metrics/metrics.ts';
import { createNodeServices } from '../../hub/node-services.ts';
import { createExpositionWriter, containerLabelName, escapeLabel } from '../../hub/metrics/exposition.ts';
import { createAgentFamilies } from '../../hub/metrics/agent-families.ts';
import type { NodeRender } from '../../hub/metrics/metrics.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

test('label values are escaped; Docker label keys become cAdvisor label names', () => {
  assert.is(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.is(containerLabelName('com.docker.compose.service'), 'container_label_com_docker_compose_service');
  const w = createExpositionWriter();
  w.add('x_total', 'counter', 'help', { instance: 'n"1' }, 1);
  w.add('x_total', 'counter', 'help', { instance: 'n2' }, NaN);
  assert.is(w.text(), '# HELP x_total help\n# TYPE x_total counter\nx_total{instance="n\\"1"} 1\nx_total{instance="n2"} NaN\n');
});

test('an offline node is exported (up 0) within the staleness, then not at all: not frozen at its last values', async () => {
  const db = openDatabase(':memory:');
  const store = createStore({ db });
  let t = 1_000_000_000;
  const inventory = createInventory({ store: createWorkloadStore(db), now: () => t, log: silent });
  const metrics = createHubMetrics({ registry: new Registry(), store, inventory, nodeServices: createNodeServices({ inventory }), now: () => t }, { stalenessMs: 60_000 });
  const n = store.joinNode('gone', 'm', t);
  store.setOnline(n.id, true, t);
  store.insertSamples(n.id, [{ sample: { seq: 1, ts: t, data: {
    cpu: [{ cpu: '0', user: 1, nice: 0, system: 1, idle: 10, iowait: 0, irq: 0, softirq: 0, steal: 0 }], load: [0.1, 0.2, 0.3],
    memory: { totalBytes: 100, availableBytes: 50, freeBytes: 40, buffersBytes: 1, cachedBytes: 2, swapTotalBytes: 0, swapFreeBytes: 0 },
    filesystems: [], network: [], temperatures: [], unavailable: [],
  } }, cpuUsed: null, memUsed: null }], { dropped: 0 }, t);
  let body = Buffer.concat((await metrics.render()).chunks).toString();
  assert.match(body, /node_cpu_seconds_total\{instance="gone",cpu="0",mode="idle"\} 10/);
  assert.match(body, /muster_node_up\{instance="gone"\} 1/);
  store.setOnline(n.id, false, t);
  t += 30_000;
  body = Buffer.concat((await metrics.render()).chunks).toString();
  assert.match(body, /muster_node_up\{instance="gone"\} 0/);
  t += 60_000;
  body = Buffer.concat((await metrics.render()).chunks).toString();
  assert.not.match(body, /instance="gone"/);
  assert.match(body, /muster_nodes\{state="offline"\} 1/);
  db.close();
});

test('series rendered ahead of a scrape (as data arrives) are the ones a fresh render gives, and follow every change', async () => {
  const db = openDatabase(':memory:');
  const store = createStore({ db });
  const t = 1_000_000_000;
  const inventory = createInventory({ store: createWorkloadStore(db), now: () => t, log: silent });
  const ahead = createHubMetrics({ registry: new Registry(), store, inventory, nodeServices: createNodeServices({ inventory }), now: () => t }, { prerenderDelayMs: 5 });
  const sample = (idle: number) => ({
    cpu: [{ cpu: '0', user: 1, nice: 0, system: 1, idle, iowait: 0, irq: 0, softirq: 0, steal: 0 }], load: [0.1, 0.2, 0.3] as [number, number, number],
    memory: { totalBytes: 100, availableBytes: 50, freeBytes: 40, buffersBytes: 1, cachedBytes: 2, swapTotalBytes: 0, swapFreeBytes: 0 },
    filesystems: [], network: [], temperatures: [], unavailable: [],
  });
  const container = {
    id: 'c'.repeat(64), name: 'web-1', image: 'nginx:1', imageId: 'sha256:1', command: 'nginx', state: 'running', health: 'none',
    restartCount: 0, restartPolicy: 'no', pid: 5, ports: [], labels: { 'muster.service': 'web' }, startedAt: t,
  };
  const nodes = ['a', 'b'].map((name) => {
    const n = store.joinNode(name, `m-${name}`, t);
    store.setOnline(n.id, true, t);
    store.insertSamples(n.id, [{ sample: { seq: 1, ts: t, data: sample(10) }, cpuUsed: null, memUsed: null }], { dropped: 0 }, t);
    inventory.apply(n, { type: 'workloads', ts: t, sync: { id: 1, part: 0, last: true }, upsert: { processes: [], containers: [container], units: [], ports: [] },
      remove: { processes: [], containers: [], units: [], ports: [] }, use: [{ id: container.id, cpuSeconds: 1, memoryBytes: 10, workingSetBytes: 5, rxBytes: 0, txBytes: 0 }] });
    return n;
  });
  const nodePart = (r: { chunks: Buffer[] }) => Buffer.concat(r.chunks).toString().split('\n').filter((l) => /instance="[ab]"/.test(l)).join('\n');
  await ahead.render(); // a scrape turns prerendering on

  // New data for node a only: a sample and container use.
  store.insertSamples(nodes[0]!.id, [{ sample: { seq: 2, ts: t, data: sample(99) }, cpuUsed: null, memUsed: null }], { dropped: 0 }, t);
  inventory.apply(nodes[0]!, { type: 'workloads', ts: t, upsert: { processes: [], containers: [], units: [], ports: [] },
    remove: { processes: [], containers: [], units: [], ports: [] }, use: [{ id: container.id, cpuSeconds: 7, memoryBytes: 10, workingSetBytes: 5, rxBytes: 0, txBytes: 0 }] });
  ahead.nodeChanged(nodes[0]!.id);
  await new Promise((r) => setTimeout(r, 50)); // the prerender timer fires
  const got = nodePart(await ahead.render());
  const fresh = nodePart(await createHubMetrics({ registry: new Registry(), store, inventory, nodeServices: createNodeServices({ inventory }), now: () => t }).render());
  assert.is(got, fresh);
  assert.match(got, /node_cpu_seconds_total\{instance="a",cpu="0",mode="idle"\} 99/);
  assert.match(got, /container_cpu_usage_seconds_total\{instance="a",[^}]*\} 7/);
  assert.match(got, /node_cpu_seconds_total\{instance="b",cpu="0",mode="idle"\} 10/);

  // A change nobody announced (nodeChanged not called) is still in the next scrape.
  store.insertSamples(nodes[1]!.id, [{ sample: { seq: 2, ts: t, data: sample(55) }, cpuUsed: null, memUsed: null }], { dropped: 0 }, t);
  assert.match(nodePart(await ahead.render()), /instance="b",cpu="0",mode="idle"\} 55/);
  ahead.close();
  db.close();
});

test('a node scraped alone gives exactly the lines the fleet\'s scrape has for it; unknown and offline nodes give none', async () => {
  const db = openDatabase(':memory:');
  const store = createStore({ db });
  const t = 1_000_000_000;
  const inventory = createInventory({ store: createWorkloadStore(db), now: () => t, log: silent });
  const families = createAgentFamilies();
  const metrics = createHubMetrics({ registry: new Registry(), store, inventory, nodeServices: createNodeServices({ inventory }), now: () => t, families });
  const container = (node: string) => ({
    id: node.repeat(64), name: `web-${node}`, image: 'nginx:1', imageId: 'sha256:1', command: 'nginx', state: 'running', health: 'none',
    restartCount: 0, restartPolicy: 'no', pid: 5, ports: [], labels: { 'muster.service': 'web' }, startedAt: t,
  });
  for (const name of ['a', 'b', 'c']) {
    const n = store.joinNode(name, `m-${name}`, t);
    store.setOnline(n.id, true, t);
    const c = container(name);
    inventory.apply(n, { type: 'workloads', ts: t, sync: { id: 1, part: 0, last: true }, upsert: { processes: [], containers: [c], units: [], ports: [] },
      remove: { processes: [], containers: [], units: [], ports: [] }, use: [{ id: c.id, cpuSeconds: 3, memoryBytes: 10, workingSetBytes: 5, rxBytes: 1, txBytes: 2 }] });
    // The host's series as agents of protocol 3 send them; node b has a family the others lack, so the fleet's family order is not b's.
    families.apply(n.id, { type: 'metrics', seq: 1, ts: t, gen: 1, reset: true, fams: [
      { f: 0, name: 'node_cpu_seconds_total', type: 'counter', help: 'Seconds the CPUs spent in each mode.', labels: ['cpu', 'mode'], ids: [0, 1], lv: ['0', 'idle', '0', 'user'], v: [100, 7] },
      ...(name === 'b' ? [{ f: 1, name: 'node_hwmon_temp_celsius', type: 'gauge' as const, help: 'Hardware monitor for temperature (input)', labels: ['chip', 'sensor'], ids: [2], lv: ['cpu_thermal', 'temp1'], v: [48.5] }] : []),
      { f: 2, name: 'node_load1', type: 'gauge', help: '1m load average.', labels: [], ids: [3], lv: [], v: [0.5] },
    ] });
  }
  store.setOnline(store.getNodeByName('c')!.id, false, t);
  const text = (r: { chunks: Buffer[] }) => Buffer.concat(r.chunks).toString();
  const series = (body: string, node: string) => body.split('\n').filter((l) => l && !l.startsWith('#') && l.includes(`instance="${node}"`)).sort();
  const fleet = text(await metrics.render());
  for (const name of ['a', 'b']) {
    const r = await metrics.renderNode(name);
    assert.is(r.kind, 'ok');
    const alone = text(r as Extract<NodeRender, { kind: 'ok' }>);
    assert.is((r as Extract<NodeRender, { kind: 'ok' }>).bytes, Buffer.byteLength(alone));
    const lines = alone.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines.filter((l) => !l.includes(`instance="${name}"`)), [], `${name}'s exposition holds only its own series`);
    assert.equal(lines.sort(), series(fleet, name), `${name} alone = ${name} in the fleet`);
    assert.ok(lines.length >= 10, `${name} has its series (${lines.length})`);
    // Every family once, with its HELP and TYPE: a scrape Prometheus takes.
    const types = alone.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    assert.is(new Set(types).size, types.length);
    for (const l of lines) assert.ok(types.includes(/^[^{ ]+/.exec(l)![0]), `a TYPE for ${l}`);
  }
  // The rest of /metrics (the fleet's totals) without any node's series, for scraping beside the nodes.
  const rest = text(await metrics.renderFleet()).split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(rest.filter((l) => l.includes('instance=')), []);
  const totals = (lines: string[]) => lines.filter((l) => /^muster_(nodes|service_instances)\{/.test(l));
  assert.equal(totals(rest), totals(fleet.split('\n')));
  // Every node's instance, offline c's (within the staleness) as unhealthy.
  assert.equal(totals(rest).filter((l) => l.startsWith('muster_service')), ['muster_service_instances{service="web",state="healthy"} 2', 'muster_service_instances{service="web",state="unhealthy"} 1']);
  assert.ok(rest.includes('muster_nodes{state="offline"} 1'));
  assert.match(text((await metrics.renderNode('b')) as Extract<NodeRender, { kind: 'ok' }>), /node_hwmon_temp_celsius\{instance="b",chip="cpu_thermal",sensor="temp1"\} 48.5/);
  assert.equal(await metrics.renderNode('nope'), { kind: 'unknown' });
  assert.equal(await metrics.renderNode('c'), { kind: 'offline', lastSeen: t });
  metrics.close();
  db.close();
});

test.run();
