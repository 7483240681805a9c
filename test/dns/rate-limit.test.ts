/**
 * Response rate limiting on a controlled clock: the rate per prefix, the
 * slip (every second limited answer sent truncated), the window (a prefix
 * that flooded stays limited until it has been quiet), and a bounded table.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResponseRateLimiter, type RateVerdict } from '../../dns/rate-limit.ts';

const tally = (verdicts: RateVerdict[]) => ({
  send: verdicts.filter((v) => v === 'send').length,
  slip: verdicts.filter((v) => v === 'slip').length,
  drop: verdicts.filter((v) => v === 'drop').length,
});

test('within the rate every answer goes out; a burst beyond it is half slipped, half dropped', () => {
  let t = 0;
  const rrl = createResponseRateLimiter({ responsesPerSecond: 10 }, () => t);
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < 10; i++) assert.is(rrl.check('192.0.2.1'), 'send');
    t += 1000;
  }
  const burst = tally(Array.from({ length: 110 }, () => rrl.check('192.0.2.1')));
  assert.equal(burst, { send: 10, slip: 50, drop: 50 });
});

test('the prefix is the client: the rest of the /24 shares the limit, the next /24 does not', () => {
  const rrl = createResponseRateLimiter({ responsesPerSecond: 5 }, () => 0);
  for (let i = 0; i < 5; i++) rrl.check(`198.51.100.${i}`);
  assert.is.not(rrl.check('198.51.100.99'), 'send');
  assert.is(rrl.check('198.51.101.1'), 'send');
  assert.is.not(rrl.check('::ffff:198.51.100.7'), 'send', 'the same prefix on a dual-stack socket');
});

test('the window: a prefix that flooded waits until its debt is paid, then is answered again', () => {
  let t = 0;
  const rrl = createResponseRateLimiter({ responsesPerSecond: 10, windowSeconds: 15 }, () => t);
  for (let i = 0; i < 10_000; i++) rrl.check('203.0.113.5');
  t += 5_000;
  assert.is.not(rrl.check('203.0.113.5'), 'send', '5 s later the debt (15 s worth) is not paid');
  t += 11_000;
  assert.is(rrl.check('203.0.113.5'), 'send', 'after the window it is');
});

test('slip 0 drops every limited answer; slip 1 truncates every one', () => {
  const none = createResponseRateLimiter({ responsesPerSecond: 1, slip: 0 }, () => 0);
  assert.equal(tally(Array.from({ length: 11 }, () => none.check('192.0.2.1'))), { send: 1, slip: 0, drop: 10 });
  const all = createResponseRateLimiter({ responsesPerSecond: 1, slip: 1 }, () => 0);
  assert.equal(tally(Array.from({ length: 11 }, () => all.check('192.0.2.1'))), { send: 1, slip: 10, drop: 0 });
});

test('the table stays bounded under a flood from many (forged) prefixes', () => {
  const rrl = createResponseRateLimiter({ maxClients: 1000 }, () => 0);
  for (let i = 0; i < 50_000; i++) rrl.check(`10.${(i >> 8) & 255}.${i & 255}.1`);
  assert.ok(rrl.size() <= 1000, `${rrl.size()} prefixes tracked`);
});

test.run();
