import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAgentMessageDecoder, type MetricsMessage } from '../../protocol/index.ts';
import { createAgentFamilies } from '../../hub/metrics/agent-families.ts';
import { createExpositionWriter } from '../../hub/metrics/exposition.ts';

const snapshot = (fams: MetricsMessage['fams'], extra: Partial<MetricsMessage> = {}): MetricsMessage => ({ type: 'metrics', seq: 1, ts: 1, gen: 7, reset: true, fams, ...extra });
const render = (f: ReturnType<typeof createAgentFamilies>) => {
  const w = createExpositionWriter();
  f.write(1, 'instance="pi"', w);
  return w.text();
};

test('what the hub renders itself cannot be sent, nor labels that are the hub\'s or Prometheus\'', () => {
  const f = createAgentFamilies();
  const out = f.apply(1, snapshot([
    { f: 0, name: 'muster_node_up', type: 'gauge', help: '', labels: [], ids: [0], lv: [], v: [1] },
    { f: 1, name: 'process_cpu_seconds_total', type: 'counter', help: '', labels: [], ids: [1], lv: [], v: [1] },
    { f: 2, name: 'evil', type: 'gauge', help: '', labels: ['instance'], ids: [2], lv: ['other-node'], v: [1] },
    { f: 3, name: 'evil2', type: 'gauge', help: '', labels: ['__name__'], ids: [3], lv: ['x'], v: [1] },
    { f: 4, name: 'dup', type: 'gauge', help: '', labels: ['a', 'a'], ids: [4], lv: ['1', '2'], v: [1] },
    { f: 5, name: 'node_load1', type: 'gauge', help: 'ok', labels: [], ids: [5], lv: [], v: [0.25] },
  ]));
  assert.is(out.rejected, 10);
  assert.is(render(f), '# HELP node_load1 ok\n# TYPE node_load1 gauge\nnode_load1{instance="pi"} 0.25\n');
  assert.is(f.rejected(1), 10);
});

test('columns that do not line up, taken ids, negative counters and unknown ids are skipped', () => {
  const f = createAgentFamilies();
  const out = f.apply(1, snapshot([
    { f: 0, name: 'a', type: 'gauge', help: '', labels: ['x'], ids: [0, 1], lv: ['only-one'], v: [1, 2] },
    { f: 1, name: 'c_total', type: 'counter', help: '', labels: ['x'], ids: [2, 3, 2], lv: ['p', 'q', 'r'], v: [1, -1, 5] },
    { f: 9, ids: [10], lv: [], v: [1] },
  ]));
  assert.is(out.rejected, 2 + 1 + 1 + 2);
  assert.is(f.seriesCount(1), 1);
  const delta = f.apply(1, { type: 'metrics', seq: 2, ts: 2, gen: 7, set: [[2, -5], [40, 1]], del: [99] });
  assert.is(delta.rejected, 3);
  assert.match(render(f), 'c_total{instance="pi",x="p"} 1\n');
});

test('help and label values are escaped; a snapshot replaces everything', () => {
  const f = createAgentFamilies();
  f.apply(1, snapshot([{ f: 0, name: 'txt', type: 'untyped', help: 'a\\b\nc', labels: ['v'], ids: [0], lv: ['say "hi"\\\n'], v: [3] }]));
  assert.is(render(f), '# HELP txt a\\\\b\\nc\n# TYPE txt untyped\ntxt{instance="pi",v="say \\"hi\\"\\\\\\n"} 3\n');
  const v = f.version(1);
  f.apply(1, snapshot([{ f: 0, name: 'other', type: 'gauge', help: '', labels: [], ids: [0], lv: [], v: [1] }], { gen: 8 }));
  assert.ok(f.version(1) > v);
  assert.equal([...f.names(1)], ['other']);
});

test('a node holds at most maxSeries series', () => {
  const f = createAgentFamilies({ maxSeries: 3 });
  const out = f.apply(1, snapshot([{ f: 0, name: 'g', type: 'gauge', help: '', labels: ['i'], ids: [0, 1, 2, 3, 4], lv: ['0', '1', '2', '3', '4'], v: [0, 1, 2, 3, 4] }]));
  assert.is(out.rejected, 2);
  assert.is(f.seriesCount(1), 3);
});

test('the wire schema refuses bad names, too many labels and values out of range', () => {
  const decode = createAgentMessageDecoder();
  const ok = snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: '', labels: ['a'], ids: [0], lv: ['1'], v: [1] }]);
  assert.ok(decode(JSON.stringify(ok)).ok);
  for (const bad of [
    snapshot([{ f: 0, name: 'node-x', type: 'gauge', help: '', labels: [], ids: [0], lv: [], v: [1] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: '', labels: ['1a'], ids: [0], lv: ['1'], v: [1] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: '', labels: Array.from({ length: 33 }, (_, i) => `l${i}`), ids: [], lv: [], v: [] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: '', labels: [], ids: [0], lv: [], v: [1e300] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'histogram' as 'gauge', help: '', labels: [], ids: [0], lv: [], v: [1] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: 'h'.repeat(1025), labels: [], ids: [0], lv: [], v: [1] }]),
    snapshot([{ f: 0, name: 'node_x', type: 'gauge', help: '', labels: ['a'], ids: [0], lv: ['v'.repeat(1025)], v: [1] }]),
    { ...ok, seq: 0 },
  ]) {
    const r = decode(JSON.stringify(bad));
    assert.is(r.ok, false, JSON.stringify(bad).slice(0, 120));
    if (!r.ok) assert.is(r.code, 'MUSTER_ERR_FRAME_INVALID');
  }
});

test.run();
