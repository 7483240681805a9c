import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { createStore, openDatabase } from '../../hub/store.ts';
import { createJobStore, MAX_OUTPUT_LINES } from '../../hub/job-store.ts';
import { createDeployService } from '../../hub/deploys.ts';
import { jobView } from '../../hub/routes/deploys.ts';
import type { DeployAction, DeployRequest } from '../../protocol/index.ts';
import { tempDir } from '../helpers/processes.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const run: DeployAction = {
  kind: 'run',
  container: { image: 'muster-test/busybox', name: 'web', env: {}, labels: {}, ports: [], volumes: [], restart: 'no' },
};

function setup(dir = tempDir('deploys')) {
  const db = openDatabase(join(dir, 'muster.db'));
  const store = createStore({ db });
  let t = 1_000_000;
  const online = new Set<number>();
  const sent: { nodeId: number; msg: DeployRequest }[] = [];
  const link = { send: (nodeId: number, msg: DeployRequest) => { if (!online.has(nodeId)) return false; sent.push({ nodeId, msg }); return true; } };
  let n = 0;
  const jobs = createJobStore(db);
  const svc = createDeployService({ jobs, link, now: () => t, log: silent, newId: () => `job-${++n}` }, { queueTimeoutMs: 60_000, runTimeoutMs: 120_000 });
  const a = store.joinNode('node-a', 'm-a', t);
  const b = store.joinNode('node-b', 'm-b', t);
  return { dir, db, svc, jobs, sent, online, a, b, tick: (ms: number) => { t += ms; }, now: () => t };
}

test('a job to an online node is sent at once and follows the agent to succeeded', () => {
  const { svc, sent, online, a } = setup();
  online.add(a.id);
  const { job, created } = svc.submit({ node: a, action: run, requestedBy: 'admin' });
  assert.ok(created);
  assert.is(job.state, 'sent');
  assert.is(sent.length, 1);
  assert.is(sent[0]!.msg.id, job.id);
  assert.is(sent[0]!.msg.deadline, job.deadline);
  svc.progress(a.id, { type: 'deployProgress', id: job.id, ts: 1, step: 'pull', message: 'pulling muster-test/busybox: already present' });
  assert.is(svc.get(job.id)!.state, 'running');
  svc.result(a.id, { type: 'deployResult', id: job.id, ts: 2, outcome: 'succeeded', message: 'web running', containerId: 'c'.repeat(64) });
  const done = svc.get(job.id)!;
  assert.is(done.state, 'succeeded');
  assert.is(done.message, 'web running');
  assert.is(done.containerId, 'c'.repeat(64));
  assert.equal(svc.output(job.id).map((l) => l.step), ['hub', 'hub', 'pull', 'hub']);
  // A late duplicate result changes nothing.
  svc.result(a.id, { type: 'deployResult', id: job.id, ts: 3, outcome: 'failed', message: 'late' });
  assert.is(svc.get(job.id)!.state, 'succeeded');
});

test('env values are write-only: the agent gets them, every view shows <redacted>; what the agent says is redacted too', () => {
  const { svc, sent, online, a } = setup();
  online.add(a.id);
  const withEnv: DeployAction = { kind: 'run', container: { ...run.container, env: { SECRET: 'xyz', LOG_LEVEL: 'debug' }, command: ['app', '--password', 'hunter2'] } };
  const { job } = svc.submit({ node: a, action: withEnv, requestedBy: 'admin' });
  assert.equal(sent[0]!.msg.action, withEnv, 'the agent gets the action as given');
  assert.equal(svc.get(job.id)!.action, withEnv, 'and it is stored for a resend');
  const view = jobView(svc.get(job.id)!, svc.output(job.id));
  assert.ok(view.action.kind === 'run');
  assert.equal(view.action.kind === 'run' && view.action.container.env, { SECRET: '<redacted>', LOG_LEVEL: '<redacted>' });
  assert.equal(view.action.kind === 'run' && view.action.container.command, ['app', '--password', '<redacted>']);
  svc.progress(a.id, { type: 'deployProgress', id: job.id, ts: 1, step: 'log', message: 'connecting to postgres://app:hunter2@db/x' });
  svc.result(a.id, { type: 'deployResult', id: job.id, ts: 2, outcome: 'failed', message: 'exited: PGPASSWORD=hunter2 psql failed' });
  const all = JSON.stringify(jobView(svc.get(job.id)!, svc.output(job.id)));
  assert.not.ok(all.includes('xyz') || all.includes('hunter2'), all);
});

test('the same id twice makes one job and sends it once', () => {
  const { svc, sent, online, a } = setup();
  online.add(a.id);
  const first = svc.submit({ id: 'deploy-web-1', node: a, action: run, requestedBy: 'admin' });
  const second = svc.submit({ id: 'deploy-web-1', node: a, action: run, requestedBy: 'someone else' });
  assert.ok(first.created);
  assert.not.ok(second.created);
  assert.is(second.job.requestedBy, 'admin');
  assert.is(sent.length, 1);
});

test('a job for an offline node waits in the queue, goes out when it connects, and fails clearly past its deadline', () => {
  const { svc, sent, online, a, b, tick } = setup();
  const waiting = svc.submit({ node: a, action: run, requestedBy: 'admin' }).job;
  const abandoned = svc.submit({ node: b, action: run, requestedBy: 'admin' }).job;
  assert.is(waiting.state, 'queued');
  assert.is(sent.length, 0);
  assert.match(svc.output(waiting.id).at(-1)!.message, /node-a is offline; waiting for it until/);
  tick(30_000);
  online.add(a.id);
  svc.nodeOnline(a.id);
  assert.is(svc.get(waiting.id)!.state, 'sent');
  assert.is(sent.length, 1);
  tick(31_000);
  svc.sweep();
  const late = svc.get(abandoned.id)!;
  assert.is(late.state, 'timed out');
  assert.match(late.message!, /node-b did not come online before the deadline .*nothing was sent/);
  assert.is(svc.get(waiting.id)!.state, 'sent', 'a sent job is not timed out by the queue deadline');
  tick(120_001);
  svc.sweep();
  assert.is(svc.get(waiting.id)!.state, 'timed out');
  assert.match(svc.get(waiting.id)!.message!, /no result from node-a/);
});

test('a reconnect sends open jobs again (the agent runs each id once); a refusal is a failure that says who refused', () => {
  const { svc, sent, online, a } = setup();
  online.add(a.id);
  const job = svc.submit({ node: a, action: run, requestedBy: 'admin' }).job;
  svc.progress(a.id, { type: 'deployProgress', id: job.id, ts: 1, step: 'accepted', message: 'accepted' });
  svc.nodeOnline(a.id);
  assert.is(sent.length, 2);
  assert.is(sent[1]!.msg.id, job.id);
  svc.result(a.id, { type: 'deployResult', id: job.id, ts: 2, outcome: 'refused', message: 'deploys are turned off on this node' });
  const j = svc.get(job.id)!;
  assert.is(j.state, 'failed');
  assert.is(j.message, 'refused by node-a: deploys are turned off on this node');
});

test('a node cannot report on another node\'s job', () => {
  const { svc, online, a, b } = setup();
  online.add(a.id);
  const job = svc.submit({ node: a, action: run, requestedBy: 'admin' }).job;
  svc.result(b.id, { type: 'deployResult', id: job.id, ts: 2, outcome: 'succeeded', message: 'forged' });
  svc.result(b.id, { type: 'deployResult', id: 'no-such-job', ts: 2, outcome: 'succeeded', message: 'forged' });
  assert.is(svc.get(job.id)!.state, 'sent');
});

test('jobs and their output survive a hub restart; output keeps its tail', () => {
  const first = setup();
  first.online.add(first.a.id);
  const job = first.svc.submit({ node: first.a, action: run, requestedBy: 'admin' }).job;
  for (let i = 0; i < MAX_OUTPUT_LINES + 20; i++) first.svc.progress(first.a.id, { type: 'deployProgress', id: job.id, ts: i, step: 'log', message: `line ${i}` });
  first.db.close();
  const db = openDatabase(join(first.dir, 'muster.db'));
  const jobs = createJobStore(db);
  const again = jobs.get(job.id)!;
  assert.is(again.state, 'running');
  assert.equal(again.action, run);
  const out = jobs.output(job.id);
  assert.is(out.length, MAX_OUTPUT_LINES);
  assert.is(out.at(-1)!.message, `line ${MAX_OUTPUT_LINES + 19}`);
  assert.equal(jobs.open().map((j) => j.id), [job.id]);
  db.close();
});

test.run();
