/**
 * Alerts end to end: `muster hub --alerts FILE`, a real agent and a real SMTP
 * server on loopback. Stopping the agent mails "offline" once; starting it
 * again mails "resolved"; `muster alerts` and /metrics show it meanwhile.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestSmtp, type ReceivedMail, type TestSmtp } from '../helpers/smtp.ts';
import {
  CLI, joinToken, scrape, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';

const execFileP = promisify(execFile);
let hub: HubProc | undefined;
let agent: AgentProc | undefined;
let smtp: TestSmtp | undefined;
let received: ReceivedMail[] = [];

test.before(async () => {
  smtp = await startTestSmtp({ password: 'letmein' });
  received = smtp.received;
  const port = smtp.port;
  const dir = tempDir('alerts-e2e');
  const file = join(dir, 'alerts.yaml');
  writeFileSync(file, `smtp: { url: "smtp://muster@127.0.0.1:${port}?tls_verify=false", from: "muster@lab.internal", to: ["ops@lab.internal"] }
evaluation_interval: 1s
group_wait: 1s
rules:
  node_offline: { for: 2s }
`);
  process.env.MUSTER_SMTP_PASSWORD = 'letmein';
  hub = await startHubProcess({ args: ['--alerts', file] });
  delete process.env.MUSTER_SMTP_PASSWORD;
  agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'alert-node' });
  await waitFor('the agent online', async () => /muster_node_up\{instance="alert-node"\} 1/.test(await scrape(hub!)), 20_000);
});

test.after(async () => {
  await agent?.stop();
  await hub?.stop();
  await smtp?.close();
});

async function alerts(): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await execFileP(process.execPath, [CLI, 'alerts', '--hub', hub!.url, '--token', hub!.adminToken, '--ca-file', hub!.caFile!], { timeout: 20_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

test('an agent that stops: one offline email, shown by muster alerts and /metrics; one resolved email when it is back', async () => {
  const stateDir = agent!.stateDir;
  await agent!.stop();
  await waitFor('the offline email', () => received.length >= 1, 15_000, 200);
  assert.match(received[0]!.subject, /^\[muster\] FIRING: alert-node: node offline/);
  assert.ok(received[0]!.secure, 'with a password configured, mail goes over STARTTLS');
  assert.match(received[0]!.text, /alert-node is offline/);
  const a = await alerts();
  assert.is(a.code, 1, 'exit 1 while something fires');
  assert.match(a.out, /FIRING\s+critical\s+node_offline\s+alert-node/);
  assert.match(await scrape(hub!), /muster_alerts_firing\{rule="node_offline"\} 1/);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.is(received.length, 1, 'one email, not one per evaluation');

  agent = startAgentProcess({ hub: hub!.url, name: 'alert-node', stateDir });
  await waitFor('the resolved email', () => received.length >= 2, 20_000, 200);
  assert.match(received[1]!.subject, /^\[muster\] RESOLVED: alert-node: node offline/);
  const after = await alerts();
  assert.is(after.code, 0);
  assert.match(after.out, /RESOLVED\s+critical\s+node_offline\s+alert-node/);
});

async function muster(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [cmd, ...rest] = args;
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, cmd!, '--hub', hub!.url, '--token', hub!.adminToken, '--ca-file', hub!.caFile!, ...rest], { timeout: 20_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

test('a silence made with the CLI holds the email back until it is expired', async () => {
  const before = received.length;
  const add = await muster('silence', 'add', '--node', 'alert-node', '--rule', 'node_offline', '--for', '1h', '--comment', 'moving the rack');
  assert.is(add.code, 0, add.err);
  const id = /silence (\w+) until/.exec(add.out)![1]!;
  const list = await muster('silence', 'list');
  assert.match(list.out, new RegExp(`${id}\\s+yes\\s+alert-node\\s+node_offline\\s+\\*`));
  const stateDir = agent!.stateDir;
  await agent!.stop();
  await waitFor('the alert to fire', async () => /FIRING/.test((await muster('alerts')).out), 15_000, 300);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.is(received.length, before, 'silenced: no email');
  const json = JSON.parse((await muster('alerts', '--json')).out);
  assert.equal(json.alerts.find((a: { state: string }) => a.state === 'firing').silencedBy, [id]);
  assert.is((await muster('silence', 'expire', id)).code, 0);
  await waitFor('the email once the silence is gone', () => received.length > before, 15_000, 200);
  assert.match(received[before]!.subject, /FIRING: alert-node: node offline/);
  const bad = await muster('silence', 'add', '--for', '1h', '--comment', 'x');
  assert.is(bad.code, 2);
  assert.match(bad.err, /at least one of --node, --rule or --subject/);
  const gone = await muster('silence', 'expire', 'nope');
  assert.is(gone.code, 1);
  assert.match(gone.err, /no silence with id 'nope'/);
  agent = startAgentProcess({ hub: hub!.url, name: 'alert-node', stateDir });
  await waitFor('the node back', async () => (await muster('alerts')).code === 0, 20_000, 300);
});

test('a bad alerts file stops the hub at start with every problem listed', async () => {
  const file = join(tempDir('alerts-bad'), 'alerts.yaml');
  writeFileSync(file, 'group_wait: later\nrules:\n  nope: {}\n');
  const r = await execFileP(process.execPath, [CLI, 'hub', '--data', tempDir('hub'), '--listen', '127.0.0.1:0', '--dns-listen', 'off', '--alerts', file]).then(
    () => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.is(r.code, 2);
  assert.match(r.stderr, /2 problems/);
  assert.match(r.stderr, /group_wait must be a duration/);
  assert.match(r.stderr, /unknown rule 'nope'/);
});

test.run();
