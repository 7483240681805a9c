import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createWorkloadStore } from '../../hub/workload-store.ts';
import { createInventory } from '../../hub/inventory.ts';
import { createHubMetrics } from '../../hub/metrics/metrics.ts';
import { createExpositionWriter, containerLabelName, escapeLabel } from '../../hub/metrics/exposition.ts';

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
  const metrics = createHubMetrics({ registry: new Registry(), store, inventory, now: () => t }, { stalenessMs: 60_000 });
  const n = store.joinNode('gone', 'm', t);
  store.setOnline(n.id, true, t);
  store.insertSamples(n.id, [{ sample: { seq: 1, ts: t, data: {
    cpu: [{ cpu: '0', user: 1, nice: 0, system: 1, idle: 10, iowait: 0, irq: 0, softirq: 0, steal: 0 }], load: [0.1, 0.2, 0.3],
    memory: { totalBytes: 100, availableBytes: 50, freeBytes: 40, buffersBytes: 1, cachedBytes: 2, swapTotalBytes: 0, swapFreeBytes: 0 },
    filesystems: [], network: [], temperatures: [], unavailable: [],
  } }, cpuUsed: null, memUsed: null }], 0, t);
  let body = (await metrics.render()).body.toString();
  assert.match(body, /node_cpu_seconds_total\{instance="gone",cpu="0",mode="idle"\} 10/);
  assert.match(body, /muster_node_up\{instance="gone"\} 1/);
  store.setOnline(n.id, false, t);
  t += 30_000;
  body = (await metrics.render()).body.toString();
  assert.match(body, /muster_node_up\{instance="gone"\} 0/);
  t += 60_000;
  body = (await metrics.render()).body.toString();
  assert.not.match(body, /instance="gone"/);
  assert.match(body, /muster_nodes\{state="offline"\} 1/);
  db.close();
});

test.run();
