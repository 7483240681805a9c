/**
 * The collectors' writer: repeated label sets are dropped and counted (one
 * label or several), a label named twice is refused, and families() gives
 * the families that have series, as plain data. Kept across runs, it
 * refills the families of the run before in place, and lets go of those a
 * run did not declare.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCollectorOutput, MetricNameError } from '../../../agent/collectors/metric-writer.ts';

test('repeated label sets are dropped and counted, the first kept; one label or two', () => {
  const out = createCollectorOutput(100);
  const one = out.gauge('x_one', 'one label', ['device']);
  one(1, 'a');
  one(2, 'b');
  one(3, 'a');
  one(4, 'c');
  one(5, 'b');
  const two = out.counter('x_two', 'two labels', ['a', 'b']);
  two(1, 'p', 'q');
  two(2, 'p\u0000q', '');
  two(3, 'p', 'q');
  two(4, 'q', 'p');
  const none = out.gauge('x_none', 'no label');
  none(7);
  none(8);
  out.gauge('x_empty', 'never written', ['device']);
  const fams = out.families();
  assert.equal(fams.map((f) => f.name), ['x_one', 'x_two', 'x_none']);
  assert.equal(fams[0], { name: 'x_one', type: 'gauge', help: 'one label', labels: ['device'], labelValues: ['a', 'b', 'c'], values: [1, 2, 4] });
  assert.equal(fams[1]!.labelValues, ['p', 'q', 'p\u0000q', '', 'q', 'p']);
  assert.equal(fams[1]!.values, [1, 2, 4]);
  // A family without labels is one series per write, as before: nothing to repeat.
  assert.equal(fams[2]!.values, [7, 8]);
  assert.equal(out.dropped(), { count: 3, reason: 'x_one: the same labels twice' });
});

test('a label named twice, or a bad name, is refused with MUSTER_ERR_METRIC_NAME', () => {
  const out = createCollectorOutput(10);
  for (const [name, labels] of [['x', ['a', 'b', 'a']], ['x', ['instance']], ['1x', []], ['x', ['__a']]] as const) {
    try {
      out.gauge(name, 'h', labels);
      assert.unreachable(`${name} ${labels.join(',')}`);
    } catch (err) {
      assert.instance(err, MetricNameError);
      assert.is((err as MetricNameError).code, 'MUSTER_ERR_METRIC_NAME');
    }
  }
});

test('the next run refills the families of the run before: fewer series are cut off, more appended, repeats checked afresh', () => {
  const out = createCollectorOutput(100);
  out.reset();
  let g = out.gauge('x_disk', 'per disk', ['device', 'op']);
  g(1, 'sda', 'read');
  g(2, 'sda', 'write');
  g(3, 'sdb', 'read');
  const first = out.families();
  assert.equal(first[0]!.labelValues, ['sda', 'read', 'sda', 'write', 'sdb', 'read']);

  out.reset();
  g = out.gauge('x_disk', 'per disk', ['device', 'op']);
  g(10, 'sdb', 'read');
  g(11, 'sdb', 'read'); // a repeat within this run
  const second = out.families();
  assert.is(second[0], first[0], 'the same object, refilled');
  assert.equal(second[0], { name: 'x_disk', type: 'gauge', help: 'per disk', labels: ['device', 'op'], labelValues: ['sdb', 'read'], values: [10] });
  assert.equal(out.dropped(), { count: 1, reason: 'x_disk: the same labels twice' });

  out.reset();
  assert.equal(out.dropped(), { count: 0, reason: undefined });
  g = out.gauge('x_disk', 'per disk', ['device', 'op']);
  for (let i = 0; i < 4; i++) g(i, `d${i}`, 'read');
  assert.equal(out.families()[0]!.labelValues, ['d0', 'read', 'd1', 'read', 'd2', 'read', 'd3', 'read']);
  assert.equal(out.families()[0]!.values, [0, 1, 2, 3]);
});

test('a family a run does not declare is gone from it; one declared anew with other labels or type starts afresh', () => {
  const out = createCollectorOutput(100);
  out.reset();
  out.gauge('x_a', 'a', ['k'])(1, 'v');
  out.gauge('x_b', 'b')(2);
  assert.equal(out.families().map((f) => f.name), ['x_a', 'x_b']);

  out.reset();
  out.counter('x_a', 'a, now a counter', ['k', 'l'])(3, 'v', 'w');
  const fams = out.families();
  assert.equal(fams, [{ name: 'x_a', type: 'counter', help: 'a, now a counter', labels: ['k', 'l'], labelValues: ['v', 'w'], values: [3] }]);

  // Within one run a family keeps its declaration: the same one again gives the same adder, another one is refused.
  const add = out.counter('x_a', 'a, now a counter', ['k', 'l']);
  assert.is(out.counter('x_a', 'a, now a counter', ['k', 'l']), add);
  assert.throws(() => out.gauge('x_a', 'h', ['k', 'l']), (err: Error) => err instanceof MetricNameError);
});

test('an adder checks how many label values it is given, for few labels and for many', () => {
  const out = createCollectorOutput(100);
  out.reset();
  const none = out.gauge('x_none', 'h');
  const two = out.gauge('x_two', 'h', ['a', 'b']);
  const six = out.gauge('x_six', 'h', ['a', 'b', 'c', 'd', 'e', 'f']);
  const call = (f: (...a: never[]) => void, ...args: unknown[]) => () => (f as (...a: unknown[]) => void)(...args);
  for (const bad of [call(none, 1, 'x'), call(two, 1, 'x'), call(two, 1, 'x', 'y', 'z'), call(six, 1, 'a', 'b', 'c', 'd', 'e')]) {
    assert.throws(bad, (err: Error) => err instanceof MetricNameError && /takes \d label values, got \d/.test(err.message));
  }
  two(1, 'x', 'y');
  six(2, 'a', 'b', 'c', 'd', 'e', 'f');
  assert.equal(out.families().map((f) => [f.labelValues, f.values]), [[['x', 'y'], [1]], [['a', 'b', 'c', 'd', 'e', 'f'], [2]]]);
});

test.run();
