/**
 * A team on one hub, end to end over real parts: a hub, two bundled agents
 * on the real Docker Engine (one labelled tier=web, one tier=db), and the
 * CLI with people's tokens. alice, a deployer scoped to web-* on tier=web,
 * deploys web-1 and it runs; she is refused db-1, web-2 on the db node, and
 * taking over or stopping the admin's db-1 container, and nothing of those
 * starts or stops. bob, a viewer, is refused a deploy. The audit log has all
 * of it under their names, and the job names alice as who asked.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { api, CLI, joinToken, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';

const execFileP = promisify(execFile);
const PREFIX = 'muster-t-team-';
const WEB1 = `${PREFIX}web-1-${process.pid}`;
const WEB2 = `${PREFIX}web-2-${process.pid}`;
const WEB3 = `${PREFIX}web-3-${process.pid}`;
const DB1 = `${PREFIX}db-1-${process.pid}`;

let hub: HubProc | undefined;
const agents: AgentProc[] = [];
let ready = false;
const tokens: Record<string, string> = {};

/** Runs the CLI against the hub with a token; the connection flags go before a `--` (what follows is the container's command). */
async function muster(token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const end = args.includes('--') ? args.indexOf('--') : args.length;
  const argv = [...args.slice(0, end), '--hub', hub!.url, '--token', token, '--ca-file', hub!.caFile!, ...args.slice(end)];
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...argv], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A container of service `svc` named `name`, doing nothing for an hour. */
const run = (node: string, name: string, svc: string, ...more: string[]) =>
  ['deploy', '--node', node, '--image', TEST_IMAGE, '--name', name, '-l', `muster.service=${svc}`, '-l', TEST_LABEL, '--restart', 'no', ...more, '--', 'sleep', '3600'];

/** Ids of the containers by that exact name, running or not. */
const containersNamed = async (name: string) => (await docker('ps', '-aq', '--filter', `name=^${name}$`)).split('\n').filter(Boolean);

// uvu reports a failing before hook only as every test failing: say why.
test.before(async () => {
  try {
    await setUp();
  } catch (err) {
    console.error('setting up failed:', err);
    throw err;
  }
});

async function setUp(): Promise<void> {
  ready = await dockerReady();
  if (!ready) return;
  await removeTestContainers(PREFIX);
  hub = await startHubProcess({ dns: 'off' });
  const join = await joinToken(hub);
  agents.push(startAgentProcess({ hub: hub.url, join, name: 'team-web', args: ['--label', 'tier=web'] }));
  agents.push(startAgentProcess({ hub: hub.url, join, name: 'team-db', args: ['--label', 'tier=db'] }));
  for (const name of ['team-web', 'team-db']) {
    await waitFor(`${name} to report its containers`, async () => {
      const c = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${name}/containers`);
      return c.status === 200 && c.body.online && c.body.collector !== null;
    }, 30_000);
  }
  // The bare token on stdout, as scripts take it; what it is goes to stderr.
  const alice = await muster(hub.adminToken, 'token', 'create', '--role', 'deployer', '--name', 'alice', '--services', 'web-*', '--nodes', 'tier=web');
  assert.is(alice.code, 0, alice.stderr);
  assert.match(alice.stdout, /^muster_[a-z0-9]{12}_\S{43}\n$/);
  assert.match(alice.stderr, /role deployer, for alice, services web-\* on nodes tier=web/);
  tokens.alice = alice.stdout.trim();
  const bob = await muster(hub.adminToken, 'token', 'create', '--role', 'viewer', '--name', 'bob');
  assert.is(bob.code, 0, bob.stderr);
  tokens.bob = bob.stdout.trim();
}

test.after(async () => {
  await removeTestContainers(PREFIX);
  for (const a of agents) await a.stop();
  await hub?.stop();
});

test('whoami: alice is a deployer of web-* on tier=web', async () => {
  if (!ready) return;
  const me = await muster(tokens.alice!, 'whoami');
  assert.is(me.code, 0, me.stderr);
  assert.match(me.stdout, /^name\s+alice$/m);
  assert.match(me.stdout, /^role\s+deployer$/m);
  assert.match(me.stdout, /^services\s+web-\*$/m);
  assert.match(me.stdout, /^nodes\s+tier=web$/m);
});

test('alice deploys web-1 to the web node and it runs; the job names her', async () => {
  if (!ready) return;
  const r = await muster(tokens.alice!, ...run('team-web', WEB1, 'web-1'));
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^succeeded/m);
  assert.is(await docker('inspect', '--format', '{{.State.Running}}', WEB1), 'true');
  const jobs = await api(hub!.url, tokens.bob!, '/api/v1/deploys');
  const job = jobs.body.jobs.find((j: { action: { container?: { name: string } } }) => j.action.container?.name === WEB1);
  assert.equal([job?.requestedBy, job?.state], ['alice', 'succeeded']);
  assert.match((await muster(tokens.bob!, 'jobs')).stdout, new RegExp(`run ${WEB1}.*succeeded\\s+alice`));
});

test('alice is refused db-1, and a web service on the db node; nothing starts', async () => {
  if (!ready) return;
  const db = await muster(tokens.alice!, ...run('team-web', DB1, 'db-1'));
  assert.is(db.code, 1);
  assert.match(db.stderr, /MUSTER_ERR_FORBIDDEN/);
  assert.match(db.stderr, /db-1/);
  const onDbNode = await muster(tokens.alice!, ...run('team-db', WEB2, 'web-2'));
  assert.is(onDbNode.code, 1);
  assert.match(onDbNode.stderr, /MUSTER_ERR_FORBIDDEN/);
  assert.match(onDbNode.stderr, /tier=web/);
  assert.equal(await containersNamed(DB1), [], 'no db-1 container was made');
  assert.equal(await containersNamed(WEB2), [], 'nothing was made on the db node');
  const jobs = (await api(hub!.url, hub!.adminToken, '/api/v1/deploys')).body.jobs as { action: { container?: { name: string } } }[];
  assert.not.ok(jobs.some((j) => j.action.container?.name === DB1 || j.action.container?.name === WEB2), 'no job was even queued');
  const bob = await muster(tokens.bob!, ...run('team-web', WEB2, 'web-2'));
  assert.is(bob.code, 1);
  assert.match(bob.stderr, /MUSTER_ERR_FORBIDDEN/);
});

test('--node auto places alice\'s web-3 only among the nodes of her scope', async () => {
  if (!ready) return;
  const r = await muster(tokens.alice!, ...run('auto', WEB3, 'web-3', '--memory', '16M'));
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /team-web \(chosen by placement\)/);
});

test('alice cannot take over or stop the admin\'s db-1 by its container name', async () => {
  if (!ready) return;
  const admin = await muster(hub!.adminToken, ...run('team-web', DB1, 'db-1'));
  assert.is(admin.code, 0, admin.stderr);
  const [id] = await containersNamed(DB1);
  await waitFor('the hub to know db-1', async () => {
    const c = await api(hub!.url, hub!.adminToken, '/api/v1/nodes/team-web/containers');
    return c.body.containers.some((x: { name: string }) => x.name === DB1);
  }, 15_000, 200);
  // Her label says web-evil; the container it would replace is db-1's.
  const takeover = await muster(tokens.alice!, ...run('team-web', DB1, 'web-evil', '--replace'));
  assert.is(takeover.code, 1);
  assert.match(takeover.stderr, /MUSTER_ERR_FORBIDDEN/);
  const stop = await muster(tokens.alice!, 'deploy', '--node', 'team-web', '--stop-container', DB1);
  assert.is(stop.code, 1);
  assert.match(stop.stderr, /MUSTER_ERR_FORBIDDEN/);
  assert.equal(await containersNamed(DB1), [id], 'the same db-1 container');
  assert.is(await docker('inspect', '--format', '{{.State.Running}}', DB1), 'true');
});

test('the audit log has all of it under alice\'s and bob\'s names, readable by a viewer', async () => {
  if (!ready) return;
  const r = await muster(tokens.bob!, 'audit', '--who', 'alice', '--json');
  assert.is(r.code, 0, r.stderr);
  type Entry = { who: string; action: string; target: string | null; outcome: string; address: string | null; detail: { error?: { permission?: string; service?: string; node?: string } } };
  const entries = JSON.parse(r.stdout).entries as Entry[];
  assert.ok(entries.every((e) => e.who === 'alice'));
  const about = (name: string) => entries.filter((e) => e.target?.includes(name));
  assert.equal(about(WEB1).map((e) => [e.action, e.outcome]), [['deploy.run', 'succeeded'], ['deploy.run', 'ok']], 'her deploy of web-1, and how it ended');
  assert.equal(about(WEB1)[1]!.address, '127.0.0.1');
  const refusedDb = about(DB1).filter((e) => e.outcome === 'refused');
  assert.equal(refusedDb.map((e) => e.action).sort(), ['container.stop', 'deploy.replace', 'deploy.run']);
  const dbRun = refusedDb.find((e) => e.action === 'deploy.run')!;
  assert.equal([dbRun.detail.error?.permission, dbRun.detail.error?.service], ['deploy', 'db-1']);
  const web2 = about(WEB2);
  assert.equal(web2.map((e) => [e.outcome, e.detail.error?.node]), [['refused', 'team-db']]);

  const bobs = JSON.parse((await muster(hub!.adminToken, 'audit', '--who', 'bob', '--json')).stdout).entries as Entry[];
  assert.ok(bobs.some((e) => e.action === 'deploy' && e.outcome === 'refused' && e.detail.error?.permission === 'deploy'));

  const table = await muster(tokens.bob!, 'audit', '--since', '1h');
  assert.match(table.stdout, /^TIME\s+WHO\s+ACTION\s+TARGET\s+FROM\s+OUTCOME\s+WHY$/m);
  assert.match(table.stdout, new RegExp(`alice\\s+deploy\\.run\\s+run ${DB1} .*refused\\s+needs deploy for db-1`));
});

test.run();
