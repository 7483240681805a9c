/** The `muster` command as a user runs it: `up`, then `nodes` and `token` with no flags. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, freePort, tempDir, waitFor } from '../helpers/processes.ts';
import { agentInstallLine } from '../../cli/install-line.ts';

const home = tempDir('cli-home');
const env = { ...process.env, MUSTER_CONFIG: join(home, 'client.json'), MUSTER_HUB: '', MUSTER_TOKEN: '' };
delete (env as Record<string, string | undefined>).MUSTER_HUB;
delete (env as Record<string, string | undefined>).MUSTER_TOKEN;

const muster = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

let upOutput = '';
let up: ReturnType<typeof spawn>;
const data = tempDir('cli-data');

test.before(async () => {
  const port = await freePort();
  up = spawn(process.execPath, [CLI, 'up', '--data', data, '--listen', `127.0.0.1:${port}`, '--name', 'local', '--interval', '1s', '--dns-listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => { upOutput += d.toString(); });
  up.stderr!.on('data', (d: Buffer) => { upOutput += d.toString(); });
  await waitFor('muster up to report', () => /Press Ctrl-C to stop/.test(upOutput), 20_000);
});

test.after(async () => {
  if (up.exitCode === null) {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
  }
});

test('muster up prints the API, the admin token and a one-line join command, and keeps secrets 0600', () => {
  assert.match(upOutput, /API +https:\/\/127\.0\.0\.1:\d+/);
  assert.match(upOutput, /admin token +muster_[a-z0-9]{12}_/);
  assert.match(upOutput, /DNS +127\.0\.0\.1:\d+ udp\/tcp, domain internal +try: dig @127\.0\.0\.1 -p \d+ local\.node\.internal/);
  // The one-line install, on a line of its own, pins the hub's CA (test/install/agent-service.test.ts runs it).
  const pin = /--ca-hash (sha256:[0-9a-f]{64})/.exec(upOutput)?.[1];
  assert.ok(pin, 'the join command carries the CA pin');
  const line = upOutput.split('\n').find((l) => l.startsWith('curl '));
  const token = /--join (muster_\S+)/.exec(line ?? '')?.[1];
  const hub = /--hub (https:\/\/\S+)/.exec(line ?? '')?.[1];
  assert.ok(line && token && hub, upOutput);
  assert.is(line, agentInstallLine({ hub: hub!, token: token!, caHash: pin }));
  assert.is(statSync(join(data, 'admin.token')).mode & 0o777, 0o600);
  assert.is(statSync(join(home, 'client.json')).mode & 0o777, 0o600);
});

test('muster nodes works right after up, with no flags, and --json prints the API answer', async () => {
  const table = await waitFor('the local node online with a CPU figure', () => {
    const r = muster('nodes');
    return r.code === 0 && /^local\s+\S+.*\d+%.*online$/m.test(r.out) ? r.out : undefined;
  }, 15_000);
  assert.match(table, /^NAME\s+ARCH\s+OS\s+CPU\s+MEMORY\s+DISK\s+TEMP\s+AGENT\s+STATUS/);
  const json = JSON.parse(muster('nodes', '--json').out);
  assert.is(json.nodes[0].name, 'local');
  assert.is(json.nodes[0].online, true);
  const one = muster('nodes', 'local');
  assert.is(one.code, 0);
  assert.match(one.out, /machine +[0-9a-f]+/);
  const missing = muster('nodes', 'nope');
  assert.is(missing.code, 1);
  assert.match(missing.err, /no node named 'nope' \(MUSTER_ERR_NODE_NOT_FOUND\)/);
});

test('token create, list and revoke', () => {
  const created = muster('token', 'create', '--role', 'agent', '--ttl', '1h', '--json');
  assert.is(created.code, 0, created.err);
  const { token, id, expiresAt } = JSON.parse(created.out);
  assert.match(token, /^muster_/);
  assert.ok(Date.parse(expiresAt) > Date.now());
  const list = muster('token', 'list');
  assert.match(list.out, new RegExp(`^${id}\\s+agent\\s+`, 'm'));
  assert.match(list.out, /\s+node\s+local\s+/, 'the node credential is listed with its node');
  assert.is(muster('token', 'revoke', id).code, 0);
  assert.match(muster('token', 'list').out, new RegExp(`^${id}.*revoked$`, 'm'));
  const bad = muster('token', 'create', '--ttl', 'forever');
  assert.is(bad.code, 1);
  assert.match(bad.err, /ttl must look like/);
});

test('join tokens: --ttl 0 warns, --uses shows in the list, metrics tokens; nodes remove asks for --yes without a terminal', () => {
  const forever = muster('token', 'create', '--ttl', '0');
  assert.is(forever.code, 0, forever.err);
  assert.match(forever.err, /warning: this join token never expires/);
  const plain = muster('token', 'create');
  assert.match(plain.err, /role agent, expires \S+/);
  assert.not.match(plain.err, /warning/);
  const once = JSON.parse(muster('token', 'create', '--uses', '1', '--json').out);
  assert.is(once.usesLeft, 1);
  const list = muster('token', 'list').out;
  assert.match(list, /^ID\s+ROLE\s+NAME\s+NODE\s+SCOPE\s+CREATED\s+EXPIRES\s+USES LEFT\s+STATE$/m);
  assert.match(list, new RegExp(`^${once.id}\\s+agent\\s+.*\\s1\\s+valid$`, 'm'));
  const metrics = muster('token', 'create', '--role', 'metrics', '--json');
  assert.equal([JSON.parse(metrics.out).role, JSON.parse(metrics.out).expiresAt], ['metrics', null]);
  assert.not.match(metrics.err, /warning/);
  assert.is(muster('token', 'create', '--uses', 'zero').code, 2);

  const unasked = muster('nodes', 'remove', 'local');
  assert.is(unasked.code, 2);
  assert.match(unasked.err, /--yes/);
  assert.match(muster('nodes').out, /^local\s/m, 'nothing was removed');
  const missing = muster('nodes', 'remove', 'nope', '--yes');
  assert.is(missing.code, 1);
  assert.match(missing.err, /MUSTER_ERR_NODE_NOT_FOUND/);
  assert.match(muster('nodes', 'replace', 'nope').err, /MUSTER_ERR_NODE_NOT_FOUND/);
});

test('clear errors: unknown flag (exit 2), unreachable hub (exit 1), bad --listen, help (exit 0)', async () => {
  const flag = muster('nodes', '--frobnicate');
  assert.is(flag.code, 2);
  assert.match(flag.err, /Unknown option '--frobnicate'/);
  assert.match(flag.err, /muster nodes --help/);
  const port = await freePort();
  const gone = muster('nodes', '--hub', `http://127.0.0.1:${port}`);
  assert.is(gone.code, 1);
  assert.match(gone.err, /cannot reach the hub at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  const listen = muster('hub', '--listen', 'nowhere');
  assert.is(listen.code, 2);
  assert.match(listen.err, /--listen must be HOST:PORT/);
  const agent = muster('agent', '--interval', 'often');
  assert.is(agent.code, 2);
  assert.match(agent.err, /--hub URL is required/);
  assert.match(agent.err, /--interval must be a duration/, 'every problem reported at once');
  const dns = muster('hub', '--dns-listen', 'port53', '--dns-ttl', '0', '--dns-upstream', 'dns.google', '--domain', 'bad_domain!');
  assert.is(dns.code, 2);
  for (const flag of ['--dns-listen must be HOST:PORT or off', '--domain must be a DNS name', '--dns-upstream must be an IP address', '--dns-ttl must be whole seconds']) {
    assert.ok(dns.err.includes(flag), `reports ${flag}`);
  }
  for (const args of [['--help'], ['up', '--help'], ['hub', '--help'], ['agent', '--help'], ['nodes', '--help'], ['token', '--help']]) {
    const r = muster(...args);
    assert.is(r.code, 0, args.join(' '));
    assert.match(r.out, /Usage/);
  }
  assert.is(muster('frobnicate').code, 2);
});

test('muster up stops cleanly on SIGTERM', async () => {
  up.kill('SIGTERM');
  const code = await new Promise((r) => up.once('exit', (c) => r(c)));
  assert.is(code, 0);
});

test.run();
