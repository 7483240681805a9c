/**
 * The DNS flags of `muster hub` and `muster up`: who may recurse
 * (--dns-allow) and the rate limit (--dns-rate-limit), validated at once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDnsFlags } from '../../cli/dns-flags.ts';
import { CliError } from '../../cli/config.ts';

const usageError = (fn: () => unknown): CliError => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, CliError);
    return err as CliError;
  }
  throw new Error('expected a usage error');
};

test('without the flags: the defaults are left to the server (local networks, strangers rate limited)', () => {
  const d = parseDnsFlags({});
  assert.ok(d);
  assert.is(d.allow, undefined);
  assert.is(d.rateLimit, undefined);
});

test('--dns-allow takes CIDRs and bare addresses, repeatable; --dns-rate-limit N limits everyone, off no one', () => {
  const d = parseDnsFlags({ 'dns-allow': ['192.168.1.0/24', '10.0.0.5', 'fd00::/8'], 'dns-rate-limit': '50' });
  assert.ok(d);
  assert.equal(d.allow, ['192.168.1.0/24', '10.0.0.5/32', 'fd00::/8']);
  assert.equal(d.rateLimit, { responsesPerSecond: 50, everyone: true });
  const off = parseDnsFlags({ 'dns-rate-limit': 'off' });
  assert.ok(off);
  assert.is(off.rateLimit, false);
});

test('bad values are all reported at once, as a usage error', () => {
  const err = usageError(() => parseDnsFlags({ 'dns-allow': ['192.168.1.0/33', 'lan'], 'dns-rate-limit': 'fast' }));
  assert.is(err.code, 'MUSTER_ERR_USAGE');
  assert.is(err.exitCode, 2);
  assert.is(err.message.split('\n').length, 3, 'two bad networks and a bad rate');
  for (const rate of ['0', '-1', '2.5', '1000001']) assert.is(usageError(() => parseDnsFlags({ 'dns-rate-limit': rate })).code, 'MUSTER_ERR_USAGE');
});

test.run();
