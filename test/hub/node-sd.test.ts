/**
 * The per-node targets' pieces: which Host headers may become a target, and
 * what a node's target group says (path, scheme, instance, labels).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildNodeTargets, hostTarget, metaLabelName } from '../../hub/routes/node-sd.ts';
import { isNodeName } from '../../hub/routes/metrics.ts';
import type { NodeRecord } from '../../hub/store.ts';

test('a Host header becomes a target only when it is a host[:port]', () => {
  for (const ok of ['hub.lan:7070', '192.168.1.10:7070', '[::1]:7070', '[fe80::1%eth0]:7070', 'hub', 'Hub.Lan', 'a-b.c.d.:443']) {
    assert.ok(hostTarget(ok) !== undefined, ok);
  }
  assert.is(hostTarget('Hub.Lan:7070'), 'hub.lan:7070');
  for (const bad of [undefined, '', 'hub:0', 'hub:65536', 'hub:70x', 'hub/evil', 'a b', 'hub:7070:1', '[nothex]:1', '::1', 'user@hub', '-hub', 'hub_x:1', 'x'.repeat(301)]) {
    assert.is(hostTarget(bad), undefined, String(bad));
  }
});

test('node names in URLs: what the link accepts, nothing else', () => {
  for (const ok of ['pi-1', 'vm_2', 'a.b', 'A', 'x'.repeat(63)]) assert.ok(isNodeName(ok), ok);
  for (const bad of ['', '-pi', '.x', 'x'.repeat(64), 'a/b', 'a%2Fb', 'a b', '..', 'ä']) assert.not.ok(isNodeName(bad), bad);
});

const node = (name: string, online: boolean, labels: Record<string, string>): NodeRecord => ({
  id: 1, name, machineId: 'm', agentVersion: null, firstSeen: 0, lastSeen: 0, online, ackedSeq: 0, dropped: 0, rejected: 0, replaceUntil: null,
  lost: { overflow: 0, expired: 0, corrupt: 0, renumbered: 0, unwritten: 0 },
  facts: { labels } as unknown as NodeRecord['facts'],
});

test('one target group per node, at the hub, with its path, scheme, instance, online state and labels as __meta_muster_label_*', () => {
  const groups = buildNodeTargets([node('pi-2', false, {}), node('pi-1', true, { 'tier': 'web', 'topology.zone': 'rack-1', 'topology_zone': 'other', 'a-b': '1' })], 'hub.lan:7070', 'https');
  assert.equal(groups, [
    { targets: ['hub.lan:7070'], labels: {
      __scheme__: 'https', __metrics_path__: '/metrics/nodes/pi-1', instance: 'pi-1', __meta_muster_online: 'true',
      // Sorted keys: `topology.zone` comes before `topology_zone` and keeps the name they share.
      __meta_muster_label_a_b: '1', __meta_muster_label_tier: 'web', __meta_muster_label_topology_zone: 'rack-1',
    } },
    { targets: ['hub.lan:7070'], labels: { __scheme__: 'https', __metrics_path__: '/metrics/nodes/pi-2', instance: 'pi-2', __meta_muster_online: 'false' } },
  ]);
  assert.is(metaLabelName('k8s.io/role'), '__meta_muster_label_k8s_io_role');
  assert.equal(buildNodeTargets([node('n', true, {})], '127.0.0.1:1', 'http')[0]!.labels['__scheme__'], 'http');
});

test.run();
