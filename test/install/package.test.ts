/**
 * The package as npm users get it: `npm pack`, then `npm install -g` of the
 * tarball into a prefix of its own, then the installed `muster` runs a hub
 * on the machine's Node (the one on PATH, as `#!/usr/bin/env node` finds it),
 * serves the agent bundle the package carries, and checkpoints with the
 * compiled worker. On a Node older than 22 the hub refuses with a reason
 * instead of crashing in its database driver.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, freePort, hubFetch, tempDir, trustHub, waitFor } from '../helpers/processes.ts';

const dir = tempDir('package');
const prefix = join(dir, 'global');
/** PATH with this project's Node 24 first: what `#!/usr/bin/env node` finds. */
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, npm_config_audit: 'false', npm_config_fund: 'false' };
let tarball = '';

test.before(() => {
  execFileSync('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
  tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  execFileSync('npm', ['install', '-g', '--prefix', prefix, tarball], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
});

test('the tarball carries compiled JavaScript and the agent bundle, not the TypeScript sources or the tests', () => {
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const f of ['package/dist/muster.mjs', 'package/dist/checkpoint-worker.mjs', 'package/dist/muster-agent.js', 'package/package.json', 'package/README.md']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.equal(files.filter((f) => f.endsWith('.ts')), [], 'no TypeScript: Node does not strip types under node_modules');
  assert.equal(files.filter((f) => f.includes('/test/') || f.includes('/bench/')), [], 'no tests or benches');
  const pkg = JSON.parse(readFileSync(join(prefix, 'lib/node_modules/muster/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.not.ok('node' in pkg.dependencies, 'installing does not download a Node of its own: it runs on the machine\'s');
});

test('the installed muster runs a hub on the machine\'s Node: TLS, the agent bundle, the compiled checkpoint worker', async () => {
  const bin = join(prefix, 'bin', 'muster');
  assert.match(execFileSync(bin, ['--version'], { env, encoding: 'utf8' }), /^muster \d+\.\d+\.\d+/);
  const data = tempDir('package-hub');
  const port = await freePort();
  const hub = spawn(bin, ['hub', '--data', data, '--listen', `127.0.0.1:${port}`, '--dns-listen', 'off', '--log-level', 'warn'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  hub.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  hub.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  try {
    await waitFor('the installed hub to listen', () => {
      if (hub.exitCode !== null) throw new Error(`hub exited: ${output}`);
      return /hub listening on https:/.test(output);
    }, 30_000);
    const url = `https://127.0.0.1:${port}`;
    trustHub(url, join(data, 'tls', 'ca.crt'));
    assert.is((await hubFetch(`${url}/healthz`)).status, 200);
    const bundle = await hubFetch(`${url}/dl/muster-agent.js`);
    assert.is(bundle.status, 200, 'the package carries the agent bundle the hub serves');
    assert.is(await bundle.text(), readFileSync(join(prefix, 'lib/node_modules/muster/dist/muster-agent.js'), 'utf8'));
    // The hub re-executed itself with its V8 flags, on the Node it was started with.
    const cmdline = readFileSync(`/proc/${hub.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('--max-semi-space-size=4'), cmdline.join(' '));
    assert.ok(readdirSync(data).includes('muster.db'));
    assert.not.match(output, /checkpoint worker failed/);
  } finally {
    hub.kill('SIGTERM');
    await new Promise((r) => (hub.exitCode !== null ? r(null) : hub.once('exit', r)));
  }
});

test('on a Node older than 22 the hub refuses with a reason; the rest of the CLI still runs', () => {
  if (!existsSync('/usr/bin/node') || Number(execFileSync('/usr/bin/node', ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) >= 22) return;
  const main = join(prefix, 'lib/node_modules/muster/dist/muster.mjs');
  const old = spawnSync('/usr/bin/node', [main, 'hub', '--data', tempDir('old-node')], { encoding: 'utf8' });
  assert.is(old.status, 1);
  assert.match(old.stderr, /needs Node\.js 22 or newer/);
  assert.is(spawnSync('/usr/bin/node', [main, '--version'], { encoding: 'utf8' }).status, 0);
});

test.run();
