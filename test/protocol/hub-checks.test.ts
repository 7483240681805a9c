import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HUB_CHECKS_FILE, hubChecksSource } from '../../protocol/build-checks.ts';
import { createHubMessageDecoder, HubMessage } from '../../protocol/index.ts';

test('protocol/hub-checks.ts is what the schemas compile to now (else: npm run build:checks)', () => {
  assert.ok(readFileSync(HUB_CHECKS_FILE, 'utf8') === hubChecksSource(), 'protocol/hub-checks.ts drifted from the schemas: run npm run build:checks');
});

const DEPLOY = {
  type: 'deploy', id: 'web-1f2e3d4c', deadline: 1_800_000_000_000,
  action: {
    kind: 'run',
    container: {
      image: 'nginx:1.27', name: 'web', command: ['nginx', '-g', 'daemon off;'], env: { TZ: 'UTC' }, labels: { 'muster.service': 'web' },
      ports: [{ containerPort: 80, hostPort: 8080, hostIp: '127.0.0.1', protocol: 'tcp' }], volumes: [{ source: '/srv/www', target: '/usr/share/nginx/html', readOnly: true }],
      restart: 'unless-stopped', cpus: 0.5, memoryBytes: 268435456, platform: 'linux/arm64',
      privileged: true, network: 'host', pid: 'host', devices: [{ hostPath: '/dev/ttyUSB0', containerPath: '/dev/modem', permissions: 'rw' }], capAdd: ['NET_ADMIN'],
    },
  },
};

/** One valid frame of every type the hub sends, and of every kind of deploy. */
const VALID: unknown[] = [
  { type: 'welcome', protocol: 3, node: 'pi-1', ackedSeq: 0, heartbeatMs: 15000, credential: 'c' },
  { type: 'welcome', protocol: 3, node: 'pi-1', ackedSeq: 9, heartbeatMs: 15000 },
  { type: 'ack', seq: 12 },
  { type: 'error', code: 'MUSTER_ERR_UNAUTHORIZED', message: 'no' },
  DEPLOY,
  { ...DEPLOY, action: { ...DEPLOY.action, kind: 'replace' } },
  { type: 'deploy', id: 'j2', deadline: 1, action: { kind: 'container', action: 'restart', name: 'web' } },
  { type: 'deploy', id: 'j3', deadline: 1, action: { kind: 'unit', action: 'restart', unit: 'nginx.service' } },
  { type: 'pause', code: 'MUSTER_ERR_HUB_BEHIND', message: 'the hub is behind', retryAfterMs: 5000 },
  { type: 'resume', ackedSeq: 7 },
  { type: 'upgrade', id: 'u1', version: '0.2.0', sha256: 'a'.repeat(64), path: '/dl/muster-agent.js', deadline: 1 },
];

/** Values a hostile or buggy hub could put anywhere. */
const JUNK: unknown[] = [null, -1, 0, 1.5, 1e300, '', 'x'.repeat(5000), '../../etc', '--all', true, [], {}, [1], { a: 1 }];

/** Every frame one change away from a valid one: each field in turn replaced by junk, removed, or joined by an unknown field. */
function mutations(value: unknown, replace: (v: unknown) => unknown = (v) => v, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = (v: unknown) => replace(value.map((x, j) => (j === i ? v : x)));
      for (const j of JUNK) out.push(at(j));
      mutations(item, at, out);
    });
    out.push(replace([]), replace([...value, ...value]));
  } else if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      const at = (v: unknown) => replace({ ...obj, [key]: v });
      for (const j of JUNK) out.push(at(j));
      const { [key]: _gone, ...without } = obj;
      out.push(replace(without));
      mutations(obj[key], at, out);
    }
    out.push(replace({ ...obj, extra: 1 }));
  }
  return out;
}

test('the agent\'s decoder gives the schema\'s verdict on every frame one change away from a valid one', () => {
  const schema = TypeCompiler.Compile(HubMessage);
  const decode = createHubMessageDecoder();
  let accepted = 0;
  let refused = 0;
  for (const frame of [...VALID, ...VALID.flatMap((v) => mutations(v)), ...JUNK]) {
    const raw = JSON.stringify(frame);
    if (raw === undefined) continue;
    const want = schema.Check(JSON.parse(raw));
    const got = decode(raw);
    assert.is(got.ok, want, raw.slice(0, 160));
    if (got.ok) accepted++;
    else {
      refused++;
      assert.is(got.code, 'MUSTER_ERR_FRAME_INVALID');
    }
  }
  for (const v of VALID) assert.ok(schema.Check(v), JSON.stringify(v).slice(0, 120));
  // Both sides of the line are exercised, many times over.
  assert.ok(accepted > 50 && refused > 1000, `${accepted} accepted, ${refused} refused`);
});

test('a refused frame says which type failed, or that the type is unknown', () => {
  const decode = createHubMessageDecoder();
  const r = decode(JSON.stringify({ type: 'ack', seq: -1 }));
  assert.ok(!r.ok && /type 'ack' fails the schema/.test(r.reason));
  const u = decode(JSON.stringify({ type: 'exec', command: 'rm -rf /' }));
  assert.ok(!u.ok && /unknown type 'exec'/.test(u.reason));
  const p = decode(JSON.stringify({ type: '__proto__' }));
  assert.ok(!p.ok && p.code === 'MUSTER_ERR_FRAME_INVALID');
  const n = decode('{"type":');
  assert.ok(!n.ok && n.code === 'MUSTER_ERR_FRAME_NOT_JSON');
});

test('the agent bundle carries no TypeBox: a node validates with the compiled checks only', () => {
  const bundle = readFileSync(new URL('../../dist/muster-agent.js', import.meta.url), 'utf8');
  assert.not.ok(bundle.includes('TypeBox.Kind'), 'dist/muster-agent.js holds TypeBox (a value import from protocol/index.ts or a schema module?)');
  assert.ok(bundle.includes("fails the schema"), 'the bundle holds the agent\'s decoder');
});

test.run();
