/**
 * Secrets stay on the node, shown end to end with the real parts: a hub, a
 * bundled agent, a real process whose command line holds a password, a
 * muster token and a URL with a password, and a real deploy with a secret
 * env value on the real Docker Engine. The attack is reading them back
 * through the API, the CLI, the hub's log and the bytes of its database
 * files; each must come up empty, while the container still gets its value.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, api, joinToken, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';

const execFileP = promisify(execFile);
const PREFIX = 'muster-t-secrets-';
const NODE = 'secrets-node';
const R = '<redacted>';

/** A token of the real shape (`muster_<12 hex>_<43 base64url>`), so only the shape can give it away. */
const fakeToken = () => `muster_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
const VICTIM_TOKEN = fakeToken();
const PASSWORD = `hunter2-${randomBytes(4).toString('hex')}`;
const URL_PASSWORD = `s3cretpw${randomBytes(4).toString('hex')}`;
const ENV_VALUE = `xyz-${randomBytes(6).toString('hex')}`;
/** In a deploy's command: kept in the job for the agent (it must run it), so apart from the process secrets above. */
const DEPLOY_KEY = `k3y-${randomBytes(6).toString('hex')}`;

let hub: HubProc | undefined;
let agent: AgentProc | undefined;
let victim: ChildProcess | undefined;
let join_: string | undefined;

/** Every secret the tests plant, none of which may come back. */
const secrets = () => [PASSWORD, VICTIM_TOKEN, URL_PASSWORD, join_!];

/** The hub's database as someone who copies its files would read it: muster.db and its WAL. */
function databaseBytes(): string {
  return ['muster.db', 'muster.db-wal'].map((f) => join(hub!.dataDir, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
}

async function muster(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, ...rest] = args;
  try {
    const env = { ...process.env, ...(hub!.caFile ? { MUSTER_CA_FILE: hub!.caFile } : {}) };
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, cmd!, '--hub', hub!.url, '--token', hub!.adminToken, ...rest], { timeout: 60_000, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test.before(async () => {
  hub = await startHubProcess();
  join_ = await joinToken(hub);
  // A real process, as an operator might have started it by hand.
  victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)', 'victim-app', `--password=${PASSWORD}`, '--token', VICTIM_TOKEN,
    '--db', `http://u:${URL_PASSWORD}@db.lab:5432/app`], { stdio: 'ignore' });
  agent = startAgentProcess({ hub: hub.url, join: join_, name: NODE });
  await waitFor('the agent to report the victim process', async () => {
    const r = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NODE}/processes`);
    return r.status === 200 && r.body.processes.some((p: { pid: number }) => p.pid === victim!.pid);
  }, 30_000, 200);
});

test.after(async () => {
  await removeTestContainers(PREFIX).catch(() => undefined);
  victim?.kill('SIGKILL');
  await agent?.stop();
  await hub?.stop();
});

test('a process started with --password, --token muster_… and http://u:secret@… shows redacted in the API', async () => {
  const r = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NODE}/processes`);
  const p = r.body.processes.find((x: { pid: number }) => x.pid === victim!.pid);
  assert.ok(p, 'the victim is in the inventory');
  assert.match(p.cmdline, `--password=${R}`);
  assert.match(p.cmdline, `--token ${R}`);
  assert.match(p.cmdline, `http://u:${R}@db.lab:5432/app`);
  // The agent's own command line is there, its join token is not.
  const self = r.body.processes.find((x: { cmdline: string }) => x.cmdline.includes(`--name ${NODE}`) && x.cmdline.includes('--join'));
  assert.ok(self, 'the agent sees itself');
  assert.match(self.cmdline, `--join ${join_!.slice(0, 'muster_'.length + 13)}${R}`);
  const everything = JSON.stringify([r.body, (await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NODE}`)).body, (await api(hub!.url, hub!.adminToken, '/api/v1/services')).body]);
  for (const s of secrets()) assert.not.ok(everything.includes(s), `the API gave away ${s}`);
});

test('the hub\'s database files never hold those secrets, while it runs and after it stopped', async () => {
  // The redacted rows are on disk: the search below looks where the secrets would be.
  await waitFor('the redacted command line on disk', () => databaseBytes().includes(`--password=${R}`), 10_000, 200);
  const bytes = databaseBytes();
  for (const s of secrets()) assert.not.ok(bytes.includes(s), `muster.db or its WAL holds ${s}`);
  assert.not.ok(hub!.output().includes(PASSWORD) || hub!.output().includes(join_!), 'nor does the hub\'s log');
});

test('a deploy with env SECRET=…: <redacted> in the API, the CLI and the log; the container gets the value', async () => {
  if (!(await dockerReady())) return;
  await removeTestContainers(PREFIX);
  const name = `${PREFIX}${process.pid}`;
  const d = await muster('deploy', '--node', NODE, '--image', TEST_IMAGE, '--name', name, '-e', `SECRET=${ENV_VALUE}`, '-l', TEST_LABEL,
    '--restart', 'no', '--', 'sh', '-c', 'sleep 600', 'sh', `--api-key=${DEPLOY_KEY}`);
  assert.is(d.code, 0, `${d.stdout}\n${d.stderr}`);
  const id = /job (\S+):/.exec(d.stderr)![1]!;

  // The container really has it.
  const env = JSON.parse(await docker('inspect', name, '--format', '{{json .Config.Env}}')) as string[];
  assert.ok(env.includes(`SECRET=${ENV_VALUE}`), env.join(' '));

  // Nobody else sees it: API, CLI (JSON and text), the hub's log.
  const one = await api(hub!.url, hub!.adminToken, `/api/v1/deploys/${id}`);
  assert.is(one.body.action.container.env.SECRET, R);
  assert.equal(one.body.action.container.command, ['sh', '-c', 'sleep 600', 'sh', `--api-key=${R}`]);
  const list = await api(hub!.url, hub!.adminToken, '/api/v1/deploys');
  assert.is(list.body.jobs.find((j: { id: string }) => j.id === id).action.container.env.SECRET, R);
  const show = await muster('jobs', 'show', id, '--json');
  assert.is(show.code, 0, show.stderr);
  assert.is(JSON.parse(show.stdout).action.container.env.SECRET, R);
  const outputs = [d.stdout, d.stderr, show.stdout, (await muster('jobs', 'show', id)).stdout, (await muster('jobs', '--json')).stdout, (await muster('jobs')).stdout,
    JSON.stringify(one.body), JSON.stringify(list.body), hub!.output()];
  for (const o of outputs) {
    assert.not.ok(o.includes(ENV_VALUE), `the env value came back: ${o.slice(0, 400)}`);
    assert.not.ok(o.includes(DEPLOY_KEY), `the command's key came back: ${o.slice(0, 400)}`);
  }

  // The running container, as the agent reports it, shows its command redacted too.
  await waitFor('the container in the inventory', async () => {
    const c = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NODE}/containers`);
    return c.body.containers?.some((x: { name: string }) => x.name === name);
  }, 15_000, 200);
  const c = await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NODE}/containers`);
  const mine = c.body.containers.find((x: { name: string }) => x.name === name);
  assert.match(mine.command, `--api-key=${R}`);
  assert.not.ok(JSON.stringify(c.body).includes(DEPLOY_KEY));
});

test('after the hub stops, its files hold none of the process secrets either (the deploy\'s are kept for its agent)', async () => {
  await agent!.stop();
  await hub!.stop();
  const bytes = databaseBytes();
  assert.ok(bytes.includes(`--password=${R}`), 'the rows were written');
  for (const s of secrets()) assert.not.ok(bytes.includes(s), `muster.db holds ${s}`);
});

test.run();
