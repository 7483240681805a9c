/**
 * Per-node write budgets: the token buckets on an injected clock, and a real
 * hub with a small budget where one node floods and is paused, keeps its
 * unacked records for later, and the other nodes are not slowed at all.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWriteBudget } from '../../hub/write-budget.ts';
import { PROTOCOL_VERSION, type AgentMessage, type SampleData } from '../../protocol/index.ts';
import { agentSocket, api, joinToken, startAgentProcess, startHubProcess, waitFor } from '../helpers/processes.ts';

test('a bucket banks two hours of budget, refuses what does not fit with the wait until it would, and refills', () => {
  let t = 0;
  const b = createWriteBudget(() => t, { bytesPerMinute: 60_000, rowsPerMinute: 600 });
  assert.equal(b.take(1, 7_200_000, 10), { ok: true }, 'two hours of bytes at once');
  const refused = b.take(1, 60_000, 1);
  assert.is(refused.ok, false);
  if (!refused.ok) assert.ok(Math.abs(refused.retryAfterMs - 60_000) < 10, `wait a minute for a minute's bytes (${refused.retryAfterMs} ms)`);
  assert.equal(b.take(2, 1_000, 1), { ok: true }, 'another node has its own bucket');
  t += 60_000;
  assert.equal(b.take(1, 60_000, 1), { ok: true }, 'refilled after a minute');
  const rows = createWriteBudget(() => t, { bytesPerMinute: 1e9, rowsPerMinute: 10 });
  assert.equal(rows.take(1, 1, 1_200), { ok: true }, 'two hours of rows');
  assert.is(rows.take(1, 1, 1).ok, false, 'rows have their own budget');
});

const sample = (seq: number): SampleData => ({
  cpu: [{ cpu: 'cpu0', user: seq, nice: 0, system: seq, idle: 100 * seq, iowait: 0, irq: 0, softirq: 0, steal: 0 }], load: [0, 0, 0],
  memory: { totalBytes: 1e9, availableBytes: 5e8, freeBytes: 4e8, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
  // Padding that makes each sample ~4 KiB, like a big host's.
  filesystems: Array.from({ length: 16 }, (_, i) => ({ mountpoint: `/srv/disk-${i}-${'x'.repeat(120)}`, device: `/dev/sd${i}`, fstype: 'ext4', sizeBytes: 1e12, freeBytes: 5e11, availBytes: 5e11, files: 1e6, filesFree: 5e5 })),
  network: [], temperatures: [], unavailable: [],
});

test('a node over its budget is paused and keeps its records; the other nodes are not held up', async () => {
  const hub = await startHubProcess({ args: ['--node-bytes-per-minute', '8KiB', '--node-rows-per-minute', '1000'] });
  const token = await joinToken(hub);
  const good = startAgentProcess({ hub: hub.url, join: token, name: 'calm' });
  const ws = agentSocket(hub.url);
  const frames: any[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  try {
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'x', node: { name: 'flood', machineId: 'm-flood' }, auth: { kind: 'join', token } } satisfies AgentMessage));
    await waitFor('welcome', () => frames.some((f) => f.type === 'welcome'), 5_000, 20);
    // Two hours of 8 KiB a minute is 960 KiB: 300 samples of ~4 KiB are more than that.
    const now = Date.now();
    for (let batch = 0; batch < 6; batch++) {
      const samples = Array.from({ length: 50 }, (_, i) => ({ seq: batch * 50 + i + 1, ts: now - 300_000 + (batch * 50 + i) * 1000, data: sample(batch * 50 + i + 1) }));
      ws.send(JSON.stringify({ type: 'samples', samples, dropped: 0 } satisfies AgentMessage));
    }
    const pause = await waitFor('the pause', () => frames.find((f) => f.type === 'pause'), 5_000, 20);
    assert.is(pause.code, 'MUSTER_ERR_WRITE_BUDGET');
    assert.ok(pause.retryAfterMs > 0);
    await new Promise((r) => setTimeout(r, 500));
    const acked = Math.max(0, ...frames.filter((f) => f.type === 'ack').map((f) => f.seq as number));
    assert.ok(acked > 0 && acked < 300, `part of the flood was stored and acked (${acked}), the rest not`);
    const stored = (await api(hub.url, hub.adminToken, '/api/v1/nodes/flood/samples')).body.samples as { seq: number }[];
    assert.is(stored.length, acked, 'nothing past the last ack was stored');
    // The calm node goes on as before.
    await waitFor('the calm node to report', async () => typeof (await api(hub.url, hub.adminToken, '/api/v1/nodes/calm')).body.samples?.ackedSeq === 'number', 30_000, 200);
    const before = (await api(hub.url, hub.adminToken, '/api/v1/nodes/calm')).body.samples.ackedSeq as number;
    await waitFor('the calm node to keep reporting', async () => (await api(hub.url, hub.adminToken, '/api/v1/nodes/calm')).body.samples.ackedSeq >= before + 3, 10_000, 200);
  } finally {
    ws.close();
    await good.stop();
    await hub.stop();
  }
});

test.run();
