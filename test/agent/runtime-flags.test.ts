/**
 * The bundled agent's Node flags (agent/runtime-flags.ts): which ones for
 * which Node, the same in the service's launcher, applied in place by an agent
 * started by hand on a Node with process.execve, and accepted quietly by
 * Node 18.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentNodeFlags, agentReexecArgv, missingAgentFlags } from '../../agent/runtime-flags.ts';
import { AGENT_BUNDLE, missingComponent, ROOT, tempDir, waitFor } from '../helpers/processes.ts';

const NODE18 = process.env.MUSTER_NODE18 ?? join(ROOT, '.cache/node18/bin/node');

test('Node 18 and 20 get --no-expose-wasm, later ones do not', () => {
  assert.equal(agentNodeFlags('v18.20.8'), ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1']);
  assert.equal(agentNodeFlags('v20.19.2'), ['--lite-mode', '--no-expose-wasm', '--max-semi-space-size=1']);
  assert.equal(agentNodeFlags('v24.21.0'), ['--lite-mode', '--max-semi-space-size=1']);
});

test('a flag counts as given whatever its value; keep leaves the runtime as started', () => {
  const rt = { version: 'v24.21.0', execPath: '/n', execArgv: ['--max-semi-space-size=4'], argv: ['/n', '/a.js', '--hub', 'h'], env: {} };
  assert.equal(missingAgentFlags(rt), ['--lite-mode']);
  assert.equal(agentReexecArgv(rt), ['/n', '--lite-mode', '--max-semi-space-size=4', '/a.js', '--hub', 'h']);
  assert.is(agentReexecArgv({ ...rt, execArgv: ['--lite-mode', '--max-semi-space-size=1'] }), undefined);
  assert.is(agentReexecArgv({ ...rt, env: { MUSTER_NODE_FLAGS: 'keep' } }), undefined);
});

test('the service launcher gives every Node the flags the agent would give itself', () => {
  const script = readFileSync(join(ROOT, 'install/agent-install.sh'), 'utf8');
  const launcher = /<<'LAUNCHER'\n([\s\S]*?)\nLAUNCHER\n/.exec(script)?.[1] ?? '';
  const choice = /^case \$\("\$NODE" --version[\s\S]*?^esac$/m.exec(launcher)?.[0];
  assert.ok(choice, 'the launcher picks the flags by Node version');
  for (const version of ['v18.20.8', 'v20.19.2', 'v22.15.0', 'v24.21.0']) {
    const r = spawnSync('sh', ['-c', `node_stub() { echo "$V"; }\nNODE=node_stub\n${choice.replace('"$NODE" --version', '$NODE')}\nprintf '%s' "$NODE_FLAGS"`], { env: { V: version }, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, agentNodeFlags(version).join(' '), version);
  }
});

/** Starts the bundle on `node` against a hub that is not there; resolves with its /proc cmdline once it is up. */
async function cmdlineOfAgent(node: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const state = tempDir('runtime-flags');
  const child = spawn(node, [AGENT_BUNDLE, '--hub', 'http://127.0.0.1:9', '--join', 'x', '--name', 'flags', '--state', state, '--log-level', 'error'], { env, stdio: 'ignore' });
  try {
    // Up: the agent has opened its journal in the state directory.
    await waitFor('the agent to open its journal', async () => existsSync(join(state, 'journal')) || undefined, 20_000);
    return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    child.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  }
}

test('started by hand on a Node with execve, the agent takes its flags in place (same PID); keep leaves it as started', async () => {
  if (typeof process.execve !== 'function') return;
  const flagged = await cmdlineOfAgent(process.execPath, { ...process.env, MUSTER_NODE_FLAGS: '' });
  assert.equal(flagged.slice(1, 1 + agentNodeFlags(process.version).length), agentNodeFlags(process.version));
  assert.is(flagged[1 + agentNodeFlags(process.version).length], AGENT_BUNDLE);
  const kept = await cmdlineOfAgent(process.execPath, { ...process.env, MUSTER_NODE_FLAGS: 'keep' });
  assert.is(kept[1], AGENT_BUNDLE);
});

test('Node 18 starts the agent with its flags and says nothing about them', () => {
  if (!existsSync(NODE18)) {
    missingComponent('Node 18', 'run install/test-host.sh to fetch it into .cache/node18');
    return;
  }
  const r = spawnSync(NODE18, [...agentNodeFlags('v18.20.8'), AGENT_BUNDLE, '--version'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.match(r.stdout, /^muster-agent /);
});

test.run();
