/**
 * The collectors' writer: repeated label sets are dropped and counted (one
 * label or several), a label named twice is refused, and families() gives
 * the families that have series, as plain data.
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

test.run();
