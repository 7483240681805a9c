import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAgentMessageDecoder } from '../../protocol/index.ts';
import { createMetricDiff, type UnsequencedMetrics } from '../../agent/metric-diff.ts';
import { createCollectorOutput, type CollectedFamily } from '../../agent/collectors/metric-writer.ts';
import { createAgentFamilies } from '../../hub/metrics/agent-families.ts';
import { createExpositionWriter } from '../../hub/metrics/exposition.ts';

const decode = createAgentMessageDecoder();
let seq = 0;

/** What the hub renders for node 1 after these records, each checked against the wire schema first. */
function hubSide() {
  const hub = createAgentFamilies();
  return {
    apply(records: UnsequencedMetrics[]) {
      for (const r of records) {
        const r2 = decode(JSON.stringify({ ...r, seq: ++seq }));
        assert.ok(r2.ok, r2.ok ? '' : r2.reason);
        if (r2.ok && r2.value.type === 'metrics') {
          const out = hub.apply(1, r2.value);
          assert.is(out.rejected, 0, out.reason);
        }
      }
    },
    text() {
      const w = createExpositionWriter();
      hub.write(1, 'instance="n1"', w);
      return w.text();
    },
    hub,
  };
}

const fam = (name: string, type: CollectedFamily['type'], labels: string[], rows: [number, ...string[]][]): CollectedFamily => ({
  name, type, help: `help of ${name}`, labels, values: rows.map((r) => r[0]), labelValues: rows.flatMap((r) => r.slice(1) as string[]),
});

test('a snapshot then deltas give the hub exactly what the collectors gave', () => {
  const diff = createMetricDiff({ random: () => 0.5 });
  const hub = hubSide();
  const cpu = (user: number, idle: number) => fam('node_cpu_seconds_total', 'counter', ['cpu', 'mode'], [[user, '0', 'user'], [idle, '0', 'idle'], [1, '1', 'user'], [2, '1', 'idle']]);
  hub.apply(diff.snapshot([cpu(10, 20), fam('node_load1', 'gauge', [], [[0.5]])], 1000));
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="0",mode="user"} 10\n');
  assert.match(hub.text(), '# TYPE node_cpu_seconds_total counter');
  assert.match(hub.text(), 'node_load1{instance="n1"} 0.5\n');

  // Two values changed, one family new, one gone.
  const delta = diff.delta([cpu(11, 21), fam('node_boot_time_seconds', 'gauge', [], [[1700000000]])], 2000);
  assert.is(delta.length, 1);
  assert.equal(delta[0]!.set, [[0, 11, 21]], 'consecutive ids go as one run');
  assert.is(delta[0]!.fams!.length, 1);
  assert.ok(delta[0]!.del!.length === 1);
  hub.apply(delta);
  const text = hub.text();
  assert.match(text, 'cpu="0",mode="user"} 11\n');
  assert.match(text, 'cpu="0",mode="idle"} 21\n');
  assert.match(text, 'node_boot_time_seconds{instance="n1"} 1700000000\n');
  assert.not.match(text, 'node_load1');

  assert.equal(diff.delta([cpu(11, 21), fam('node_boot_time_seconds', 'gauge', [], [[1700000000]])], 3000), [], 'nothing changed, nothing sent');
});

test('series that come and go, and a family that comes back', () => {
  const diff = createMetricDiff();
  const hub = hubSide();
  const net = (devs: string[]) => fam('node_network_up', 'gauge', ['device'], devs.map((d) => [1, d] as [number, string]));
  hub.apply(diff.snapshot([net(['eth0', 'lo'])], 1));
  hub.apply(diff.delta([net(['eth0', 'veth1'])], 2));
  let text = hub.text();
  assert.match(text, 'device="veth1"');
  assert.not.match(text, 'device="lo"');
  hub.apply(diff.delta([], 3));
  assert.is(hub.text(), '');
  hub.apply(diff.delta([net(['eth0'])], 4));
  text = hub.text();
  assert.match(text, 'node_network_up{instance="n1",device="eth0"} 1\n');
  assert.is(hub.hub.seriesCount(1), 1);
});

test('the same label values interval after interval: only the changed values go; gone and back the same, sent whole again', () => {
  const diff = createMetricDiff();
  const hub = hubSide();
  const cpu = (vals: number[], cpus = ['0', '1']) => fam('node_cpu_seconds_total', 'counter', ['cpu', 'mode'], cpus.flatMap((c, i) => [[vals[i * 2]!, c, 'user'], [vals[i * 2 + 1]!, c, 'idle']] as [number, string, string][]));
  hub.apply(diff.snapshot([cpu([1, 2, 3, 4])], 1));
  for (let t = 2; t < 5; t++) {
    const recs = diff.delta([cpu([t, 2, 3, 4 + t])], t);
    hub.apply(recs);
    assert.equal(recs.map((r) => [r.set, r.fams, r.del]), [[[[0, t], [3, 4 + t]], undefined, undefined]], `interval ${t}: two values, no declarations`);
  }
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="1",mode="idle"} 8\n');
  // The same series in another order are the same series: their ids, their values.
  hub.apply(diff.delta([fam('node_cpu_seconds_total', 'counter', ['cpu', 'mode'], [[9, '1', 'idle'], [4, '0', 'user'], [2, '0', 'idle'], [3, '1', 'user']])], 5));
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="1",mode="idle"} 9\n');
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="0",mode="user"} 4\n');
  hub.apply(diff.delta([], 6));
  assert.is(hub.hub.seriesCount(1), 0);
  const back = diff.delta([cpu([5, 6, 7, 8])], 7);
  hub.apply(back);
  assert.is(back[0]!.fams?.[0]?.ids.length, 4, 'every series added again, none only set');
  assert.is(hub.hub.seriesCount(1), 4);
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="1",mode="idle"} 8\n');
  hub.apply(diff.delta([cpu([5, 6, 7, 9], ['0', '2'])], 8));
  assert.not.match(hub.text(), 'cpu="1"');
  assert.match(hub.text(), 'node_cpu_seconds_total{instance="n1",cpu="2",mode="idle"} 9\n');
  assert.is(hub.hub.seriesCount(1), 4);
});

test('a collector writer refilling its families in place: series found at their places, or elsewhere when one in the middle went', () => {
  const diff = createMetricDiff();
  const hub = hubSide();
  const out = createCollectorOutput(100);
  const run = (disks: [string, number][]) => {
    out.reset();
    const reads = out.counter('node_disk_reads_completed_total', 'reads', ['device']);
    const io = out.counter('node_disk_io_time_seconds_total', 'io', ['device', 'kind']);
    for (const [d, v] of disks) { reads(v, d); io(v * 2, d, 'busy'); }
    return out.families();
  };
  hub.apply(diff.snapshot(run([['sda', 1], ['sdb', 2], ['sdc', 3]]), 1));
  let recs = diff.delta(run([['sda', 1], ['sdb', 5], ['sdc', 3]]), 2);
  assert.equal(recs.map((r) => [r.set, r.fams, r.del]), [[[[1, 5], [4, 10]], undefined, undefined]], 'at their places: only the changed values');
  hub.apply(recs);
  // sdb unplugged: sdc moves up a place; a new disk comes last.
  recs = diff.delta(run([['sda', 1], ['sdc', 3], ['sdd', 7]]), 3);
  hub.apply(recs);
  assert.is(recs[0]!.set, undefined, 'sdc is the same series at another place: nothing to set');
  assert.equal(recs[0]!.del, [1, 4]);
  const text = hub.text();
  assert.match(text, 'node_disk_reads_completed_total{instance="n1",device="sdc"} 3\n');
  assert.match(text, 'node_disk_io_time_seconds_total{instance="n1",device="sdd",kind="busy"} 14\n');
  assert.not.match(text, 'sdb');
  assert.is(hub.hub.seriesCount(1), 6);
  assert.equal(diff.delta(run([['sda', 1], ['sdc', 3], ['sdd', 7]]), 4), [], 'nothing changed, nothing sent');
});

test('a family whose type or labels changed starts a new generation', () => {
  const diff = createMetricDiff();
  const hub = hubSide();
  hub.apply(diff.snapshot([fam('backup_age_seconds', 'gauge', ['job'], [[5, 'home']])], 1));
  const next = diff.delta([fam('backup_age_seconds', 'gauge', ['job', 'host'], [[6, 'home', 'nas']])], 2);
  assert.ok(next[0]!.reset, 'the hub cannot redeclare a family within a generation');
  hub.apply(next);
  assert.match(hub.text(), 'backup_age_seconds{instance="n1",job="home",host="nas"} 6\n');
});

test('a large snapshot is cut into records; only the first resets', () => {
  const diff = createMetricDiff({ maxRecordItems: 100 });
  const hub = hubSide();
  const rows: [number, string][] = Array.from({ length: 1000 }, (_, i) => [i, `dev${i}`]);
  const records = diff.snapshot([fam('node_disk_io_now', 'gauge', ['device'], rows)], 1);
  assert.is(records.length, 10);
  assert.ok(records[0]!.reset);
  assert.ok(records.slice(1).every((r) => !r.reset && r.gen === records[0]!.gen));
  assert.ok(records[0]!.fams![0]!.name, 'declared in the first record');
  assert.is(records[1]!.fams![0]!.name, undefined, 'named by number after');
  hub.apply(records);
  assert.is(hub.hub.seriesCount(1), 1000);
  // Every value changed: runs cut at the item limit too.
  const delta = diff.delta([fam('node_disk_io_now', 'gauge', ['device'], rows.map(([v, d]) => [v + 1, d]))], 2);
  assert.is(delta.length, 10);
  hub.apply(delta);
  assert.match(hub.text(), 'device="dev999"} 1000\n');
});

test('records stay under the byte budget even with long label values', () => {
  const diff = createMetricDiff({ maxRecordBytes: 64 * 1024 });
  const long = 'é'.repeat(1000);
  const rows: [number, string][] = Array.from({ length: 300 }, (_, i) => [i, `${long}${i}`]);
  const records = diff.snapshot([fam('textfile_thing', 'untyped', ['what'], rows)], 1);
  assert.ok(records.length > 1);
  for (const r of records) assert.ok(Buffer.byteLength(JSON.stringify(r)) < 80 * 1024, `${Buffer.byteLength(JSON.stringify(r))} bytes`);
});

test('a delta for another generation is ignored by the hub', () => {
  const a = createMetricDiff({ random: () => 0.1 });
  const b = createMetricDiff({ random: () => 0.2 });
  const hub = hubSide();
  hub.apply(a.snapshot([fam('x', 'gauge', [], [[1]])], 1));
  b.snapshot([fam('x', 'gauge', [], [[5]])], 1); // a snapshot the hub never got (lost before a restart)
  const stray = b.delta([fam('x', 'gauge', [], [[6]])], 2);
  assert.is(hub.hub.apply(1, { ...stray[0]!, seq: 99 }).applied, false);
  assert.match(hub.text(), 'x{instance="n1"} 1\n');
});

test.run();
