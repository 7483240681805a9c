/**
 * Nothing lost on a crash: real hub and agent processes, killed with SIGKILL
 * (an OOM kill, a Pi losing power), and a journal torn in the middle of its
 * last record. What the journal held is read back from a copy of the state
 * directory taken at the crash, and must reach the hub once, with the same
 * sequence numbers and times.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { openJournal } from '../../agent/journal.ts';
import { api, joinToken, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';

interface SamplesView { ackedSeq: number; dropped: number; samples: { seq: number; ts: string }[] }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const samplesOf = async (hub: HubProc, name: string) => (await api<SamplesView>(hub.url, hub.adminToken, `/api/v1/nodes/${name}/samples`)).body;

/** The sample records (seq, ts) a copy of an agent's state directory holds unacked. */
function journaledSamples(stateDir: string): { seq: number; ts: number }[] {
  const copy = tempDir('journal-copy');
  cpSync(join(stateDir, 'journal'), join(copy, 'journal'), { recursive: true });
  const j = openJournal({ dir: join(copy, 'journal'), syncEveryMs: 0 });
  const out = j.pendingAfter(0, 100_000).filter((r) => r.kind === 'sample').map((r) => ({ seq: r.seq, ts: r.ts }));
  j.close();
  return out;
}

test('agent SIGKILLed during a hub outage, restarted, hub restarted: every sample of the outage arrives once, with its seq and time', async () => {
  let hub = await startHubProcess();
  let agent: AgentProc = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'crasher' });
  try {
    await waitFor('first samples acked', async () => (await samplesOf(hub, 'crasher')).ackedSeq >= 3, 15_000);
    await hub.stop('SIGKILL');
    const downAt = Date.now();
    await sleep(4_000);
    assert.is(await agent.stop('SIGKILL'), 'SIGKILL');
    const killedAt = Date.now();
    const held = journaledSamples(agent.stateDir).filter((s) => s.ts > downAt);
    assert.ok(held.length >= 3, `the journal holds the outage's samples at the crash (${held.length})`);

    // Back without the hub, and without a join token: the credential in the state directory is enough.
    agent = startAgentProcess({ hub: hub.url, name: 'crasher', stateDir: agent.stateDir });
    await sleep(2_000);
    hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
    const upAt = Date.now();
    const s = await waitFor('samples from after the hub came back', async () => {
      const v = await samplesOf(hub, 'crasher');
      return v.samples.some((x) => Date.parse(x.ts) > upAt) ? v : undefined;
    }, 30_000);

    const stored = new Map(s.samples.map((x) => [x.seq, Date.parse(x.ts)]));
    assert.is(stored.size, s.samples.length, 'each sequence number stored once');
    for (const h of held) assert.is(stored.get(h.seq), h.ts, `sample #${h.seq} arrived with the time it was taken`);
    const times = s.samples.map((x) => Date.parse(x.ts));
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      // The only hole allowed is the time the agent itself was dead.
      if (times[i - 1]! < killedAt && times[i]! > killedAt) continue;
      assert.ok(gap < 2_500, `no sample missing between ${s.samples[i - 1]!.ts} and ${s.samples[i]!.ts}`);
    }
    const outage = s.samples.filter((x) => Date.parse(x.ts) > downAt && Date.parse(x.ts) < upAt);
    assert.ok(outage.length >= held.length + 1, `samples from before and after the agent's crash, both during the outage (${outage.length})`);
    assert.is(s.dropped, 0, 'nothing reported lost');
  } finally {
    await agent.stop();
    await hub.stop();
  }
});

test('a journal torn in its last record: the agent starts, counts the record as lost, and sends the rest', async () => {
  let hub = await startHubProcess();
  let agent: AgentProc = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'torn' });
  try {
    await waitFor('first samples acked', async () => (await samplesOf(hub, 'torn')).ackedSeq >= 2, 15_000);
    await hub.stop('SIGKILL');
    const downAt = Date.now();
    await sleep(3_000);
    await agent.stop('SIGKILL');
    const held = journaledSamples(agent.stateDir).filter((s) => s.ts > downAt);
    // A power cut in the middle of writing the last record: its tail never reached the disk.
    const dir = join(agent.stateDir, 'journal', 'main');
    const last = join(dir, readdirSync(dir).filter((f) => f.endsWith('.seg')).sort().pop()!);
    truncateSync(last, statSync(last).size - 7);

    agent = startAgentProcess({ hub: hub.url, name: 'torn', stateDir: agent.stateDir });
    hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
    const detail = await waitFor('the agent back, reporting the torn record', async () => {
      const r = await api(hub.url, hub.adminToken, '/api/v1/nodes/torn');
      return r.body.online && r.body.samples?.lost?.corrupt === 1 ? r.body : undefined;
    }, 30_000);
    assert.is(detail.samples.dropped, 1, 'the loss is counted, not hidden');
    const stored = new Set((await samplesOf(hub, 'torn')).samples.map((x) => x.seq));
    const arrived = held.filter((h) => stored.has(h.seq)).length;
    // The torn record is the last of the journal: a sample or a workloads record. Every sample before it arrives.
    assert.ok(arrived >= held.length - 1, `the samples before the tear arrived (${arrived} of ${held.length})`);
    assert.match(agent.output(), /journal opened/);
  } finally {
    await agent.stop();
    await hub.stop();
  }
});

test.run();
