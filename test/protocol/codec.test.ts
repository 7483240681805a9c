import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAgentMessageDecoder, createHubMessageDecoder, PROTOCOL_VERSION } from '../../protocol/index.ts';

const decode = createAgentMessageDecoder();
const hello = {
  type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: '0.1.0',
  node: { name: 'pi-1', machineId: 'abc' }, auth: { kind: 'join', token: 't' },
};

test('a valid hello decodes', () => {
  const r = decode(JSON.stringify(hello));
  assert.ok(r.ok);
  if (r.ok) assert.is(r.value.type, 'hello');
});

test('text that is not JSON is refused with MUSTER_ERR_FRAME_NOT_JSON', () => {
  for (const raw of ['', '{', 'null,', '\u0000\u0001', '{"type":"hello"']) {
    const r = decode(raw);
    assert.is(r.ok, false);
    if (!r.ok) assert.is(r.code, 'MUSTER_ERR_FRAME_NOT_JSON');
  }
});

test('schema violations are refused with MUSTER_ERR_FRAME_INVALID and say where', () => {
  const cases: unknown[] = [
    null, 42, [], {}, { type: 'nope' },
    { ...hello, node: { name: '../../etc/passwd', machineId: 'x' } },
    { ...hello, node: { name: 'a'.repeat(64), machineId: 'x' } },
    { ...hello, auth: { kind: 'root', token: 't' } },
    { type: 'samples', samples: [{ seq: 0, ts: 1, data: {} }], dropped: 0 },
    { type: 'samples', samples: new Array(501).fill(null), dropped: 0 },
    { type: 'heartbeat', ts: -1 },
    { type: 'heartbeat', ts: 'now' },
  ];
  for (const c of cases) {
    const r = decode(JSON.stringify(c));
    assert.is(r.ok, false, JSON.stringify(c).slice(0, 80));
    if (!r.ok) {
      assert.is(r.code, 'MUSTER_ERR_FRAME_INVALID');
    }
  }
});

test('a fixture of every hub message decodes on the agent side', () => {
  const d = createHubMessageDecoder();
  for (const m of [
    { type: 'welcome', protocol: 1, node: 'pi-1', ackedSeq: 0, heartbeatMs: 15000, credential: 'c' },
    { type: 'ack', seq: 12 },
    { type: 'error', code: 'MUSTER_ERR_UNAUTHORIZED', message: 'no' },
    DEPLOY,
    { type: 'deploy', id: 'j2', deadline: 1, action: { kind: 'container', action: 'restart', name: 'web' } },
    { type: 'deploy', id: 'j3', deadline: 1, action: { kind: 'unit', action: 'restart', unit: 'nginx.service' } },
  ]) assert.ok(d(JSON.stringify(m)).ok, m.type);
  assert.is(d(JSON.stringify({ type: 'ack', seq: -1 })).ok, false);
});

const DEPLOY = {
  type: 'deploy', id: 'web-1f2e3d4c', deadline: 1_800_000_000_000,
  action: {
    kind: 'run',
    container: {
      image: 'nginx:1.27', name: 'web', command: ['nginx', '-g', 'daemon off;'], env: { TZ: 'UTC' }, labels: { 'muster.service': 'web' },
      ports: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }], volumes: [{ source: '/srv/www', target: '/usr/share/nginx/html', readOnly: true }],
      restart: 'unless-stopped', cpus: 0.5, memoryBytes: 268435456, platform: 'linux/arm64',
    },
  },
};

test('deploy requests that could do harm are refused before the agent sees them', () => {
  const d = createHubMessageDecoder();
  const bad = [
    { ...DEPLOY, id: '../../etc' },
    { ...DEPLOY, action: { ...DEPLOY.action, container: { ...DEPLOY.action.container, name: '-rf' } } },
    { ...DEPLOY, action: { ...DEPLOY.action, container: { ...DEPLOY.action.container, memoryBytes: 1 } } },
    { ...DEPLOY, action: { kind: 'unit', action: 'mask', unit: 'sshd.service' } },
    { ...DEPLOY, action: { kind: 'unit', action: 'stop', unit: '--all' } },
    { ...DEPLOY, action: { kind: 'exec', command: 'rm -rf /' } },
  ];
  for (const m of bad) assert.is(d(JSON.stringify(m)).ok, false, JSON.stringify(m).slice(0, 120));
});

test('a deploy may ask for privileges and host namespaces (the agent decides), in forms Docker cannot read otherwise', () => {
  const d = createHubMessageDecoder();
  const powers = { privileged: true, network: 'host', pid: 'host', devices: [{ hostPath: '/dev/ttyUSB0', containerPath: '/dev/modem', permissions: 'rw' }], capAdd: ['NET_ADMIN'] };
  const withPowers = (over: object) => ({ ...DEPLOY, action: { ...DEPLOY.action, container: { ...DEPLOY.action.container, ...over } } });
  assert.ok(d(JSON.stringify(withPowers(powers))).ok);
  assert.ok(d(JSON.stringify(withPowers({ network: 'backend' }))).ok);
  for (const bad of [{ network: 'container:db' }, { pid: 'container:db' }, { capAdd: ['net admin'] }, { devices: [{ hostPath: 'ttyUSB0' }] }, { devices: [{ hostPath: '/dev/a', permissions: 'rwx' }] }, { privileged: 'yes' }]) {
    assert.is(d(JSON.stringify(withPowers(bad))).ok, false, JSON.stringify(bad));
  }
});

test('deploy progress and results from an agent decode on the hub side', () => {
  assert.ok(decode(JSON.stringify({ type: 'deployProgress', id: 'web-1', ts: 1, step: 'pull', message: 'nginx:1.27: pulled' })).ok);
  assert.ok(decode(JSON.stringify({ type: 'deployResult', id: 'web-1', ts: 2, outcome: 'succeeded', message: 'web running', containerId: 'a'.repeat(64) })).ok);
  assert.is(decode(JSON.stringify({ type: 'deployResult', id: 'web-1', ts: 2, outcome: 'maybe', message: '' })).ok, false);
  assert.is(decode(JSON.stringify({ type: 'deployProgress', id: 'web-1', ts: 1, step: 'pull', message: 'x'.repeat(5000) })).ok, false);
});

test.run();
