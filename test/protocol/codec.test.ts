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
      assert.match(r.reason, /fails the schema at/);
    }
  }
});

test('a fixture of every hub message decodes on the agent side', () => {
  const d = createHubMessageDecoder();
  for (const m of [
    { type: 'welcome', protocol: 1, node: 'pi-1', ackedSeq: 0, heartbeatMs: 15000, credential: 'c' },
    { type: 'ack', seq: 12 },
    { type: 'error', code: 'MUSTER_ERR_UNAUTHORIZED', message: 'no' },
  ]) assert.ok(d(JSON.stringify(m)).ok, m.type);
  assert.is(d(JSON.stringify({ type: 'ack', seq: -1 })).ok, false);
});

test.run();
