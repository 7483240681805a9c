/**
 * Alerts: configuration, rules and email, with an injected clock (no
 * sleeping for minutes) and a real SMTP server on loopback (smtp-server),
 * reading the messages it receives.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { openDatabase } from '../../hub/store.ts';
import { AlertsConfigError, defaultAlertsConfig, loadAlertsConfig, parseAlertsConfig, readSecretFile } from '../../hub/alerts/config.ts';
import { createAlertEngine } from '../../hub/alerts/engine.ts';
import { createSmtpMailer } from '../../hub/alerts/mailer.ts';
import { createSilenceStore } from '../../hub/alerts/silences.ts';
import { createDiskTrend } from '../../hub/alerts/disk-trend.ts';
import { evaluateRules, type FleetView } from '../../hub/alerts/rules.ts';
import type { HostFacts, SampleData, UnitInfo } from '../../protocol/index.ts';
import { tempDir } from '../helpers/processes.ts';
import { startTestSmtp } from '../helpers/smtp.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const MIN = 60_000;

const facts = (name: string, over: Partial<HostFacts> = {}): HostFacts => ({
  hostname: name, machineId: name, os: { id: 'debian', name: 'Debian', version: '12', prettyName: 'Debian 12' }, kernel: '6.1', arch: 'amd64', platform: 'linux/amd64',
  cpu: { model: 'x', cores: 4 }, memoryBytes: 8e9, swapBytes: 0, bootTime: 1, rebootRequired: false, labels: {}, filesystems: [], addresses: [],
  runtime: 'node', agentVersion: '0.1.0', ...over,
} as HostFacts);

const sample = (diskPct: number): SampleData => ({
  cpu: [], load: [0, 0, 0], memory: { totalBytes: 100, availableBytes: 50, freeBytes: 40, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
  filesystems: [{ mountpoint: '/', device: '/dev/sda1', fstype: 'ext4', sizeBytes: 100, freeBytes: 100 - diskPct, availBytes: 100 - diskPct, files: 0, filesFree: 0 }],
  network: [], temperatures: [], unavailable: [],
} as SampleData);

/** A fleet the test changes by hand: online flags, disk use, a failed unit. */
function fleet() {
  const state = { online: true, lastSeen: 0, disk: 50, unitFailed: false, labels: {} as Record<string, string> };
  const view: FleetView = {
    nodes: [],
    latest: () => ({ cpuUsed: 0.1, data: sample(state.disk) }),
    workloads: () => {
      const units = new Map<string, UnitInfo>();
      if (state.unitFailed) units.set('backup.service', { name: 'backup.service', description: '', loadState: 'loaded', activeState: 'failed', subState: 'failed', mainPid: 0, restarts: 0 });
      return { processes: new Map(), containers: new Map(), units, ports: new Map(), use: new Map(), collectors: {}, updatedAt: 0, versions: { processes: 0, containers: 0, units: 0, ports: 0 }, useVersion: 0, identityVersion: 0 };
    },
    services: () => [],
  };
  return { state, view: () => ({ ...view, nodes: [{ id: 1, name: 'pi-1', online: state.online, lastSeen: state.lastSeen, facts: facts('pi-1', { labels: state.labels }) }] }) };
}

function setup(smtpPort: number, yaml: Record<string, unknown> = {}, dir = tempDir('alerts'), start = 1_000 * MIN) {
  const db = openDatabase(join(dir, 'muster.db'));
  let t = start;
  const silenceStore = createSilenceStore(db);
  const config = parseAlertsConfig({
    // The test server's certificate is its own: encrypted, not verified.
    smtp: { url: `smtp://muster@127.0.0.1:${smtpPort}?tls_verify=false`, from: 'muster@lab.internal', to: ['ops@lab.internal'] },
    group_wait: '30s', hub_url: 'http://hub.lab:7070', ...yaml,
  }, 'test.yaml', { MUSTER_SMTP_PASSWORD: 'secret' }, readSecretFile);
  const f = fleet();
  f.state.lastSeen = t;
  const engine = createAlertEngine({ db, config, fleet: f.view, now: () => t, log: silent, mailer: createSmtpMailer(config.smtp!), silences: silenceStore }, { retryMinMs: 10_000 });
  const step = async (ms: number) => {
    t += ms;
    engine.evaluate();
    await engine.notify();
  };
  return { dir, db, engine, fleet: f, step, now: () => t, silences: silenceStore };
}

test('the issue\'s example file is valid; defaults cover every rule; every problem is reported at once', () => {
  const dir = tempDir('alerts-cfg');
  const file = join(dir, 'alerts.yaml');
  writeFileSync(file, `smtp: { url: "smtp://user@mail.lab:587", from: "muster@lab.internal", to: ["ops@lab.internal"] }
group_wait: 30s
repeat_interval: 4h
rules:
  node_offline: { for: 2m }
  cpu_high: { threshold: 90, for: 5m }
  disk_full: { threshold: 90, for: 10m, nodes: { group: storage } }
`);
  const c = loadAlertsConfig(file, { MUSTER_SMTP_PASSWORD: 'pw' });
  assert.is(c.rules.disk_full.forMs, 10 * MIN);
  assert.equal(c.rules.disk_full.nodes, { group: 'storage' });
  assert.is(c.rules.node_offline.forMs, 2 * MIN);
  assert.is(c.rules.unit_failed.enabled, true, 'rules the file does not name keep their defaults');
  assert.is(c.smtp!.password, 'pw');
  assert.ok(Object.isFrozen(c.rules.cpu_high));
  const d = defaultAlertsConfig();
  assert.equal([d.groupWaitMs, d.repeatIntervalMs, d.rules.node_offline.forMs, d.rules.cpu_high.threshold, d.rules.temperature_high.threshold], [30_000, 4 * 3_600_000, 2 * MIN, 90, 80]);

  writeFileSync(file, `smtp: { url: "http://mail.lab", from: "nobody", to: [] }
group_wait: soon
rules:
  cpu_hgih: { threshold: 90 }
  disk_full: { threshold: 900, for: 10 minutes, colour: red }
`);
  try {
    loadAlertsConfig(file, {});
    assert.unreachable('the file has problems');
  } catch (err) {
    assert.instance(err, AlertsConfigError);
    const p = (err as AlertsConfigError).problems.join('\n');
    for (const want of [/smtp\.url must start with smtp:\/\//, /smtp\.from must be an email address/, /smtp\.to must list at least one/, /group_wait must be a duration/,
      /unknown rule 'cpu_hgih'/, /disk_full\.threshold must be a number above 0 and at most 100/, /disk_full\.for must be a duration/, /disk_full: unknown key 'colour'/]) {
      assert.match(p, want);
    }
  }
  writeFileSync(file, 'smtp: { url: "smtp://u:hunter2@mail.lab", from: "a@b.c", to: "ops@b.c" }\n');
  assert.throws(() => loadAlertsConfig(file, {}), /must not hold the password/);
  const secret = join(dir, 'pw');
  writeFileSync(secret, 'hunter2\n');
  chmodSync(secret, 0o644);
  assert.throws(() => readSecretFile(secret), /readable by others.*chmod 600/);
  chmodSync(secret, 0o600);
  assert.is(readSecretFile(secret), 'hunter2');
});

test('a node that goes quiet: exactly one "offline" email after the for duration, one "resolved" when it returns', async () => {
  const smtp = await startTestSmtp();
  const { fleet: f, step, now } = setup(smtp.port);
  await step(10_000);
  f.state.online = false;
  f.state.lastSeen = now();
  await step(60_000); // offline 1 min: pending
  assert.is(smtp.received.length, 0);
  await step(60_000); // 2 min: firing, group_wait starts
  await step(10_000);
  assert.is(smtp.received.length, 0, 'group_wait holds the first email');
  await step(30_000);
  assert.is(smtp.received.length, 1);
  const mail = smtp.received[0]!;
  assert.match(mail.subject, /^\[muster\] FIRING: pi-1: node offline/);
  assert.match(mail.text, /pi-1 is offline/);
  assert.match(mail.text, /muster nodes pi-1 +\(hub http:\/\/hub\.lab:7070\)/);
  assert.is(mail.to, 'ops@lab.internal');
  for (let i = 0; i < 10; i++) await step(60_000);
  assert.is(smtp.received.length, 1, 'no repeat before repeat_interval');
  f.state.online = true;
  await step(10_000);
  await step(30_000);
  assert.is(smtp.received.length, 2);
  assert.match(smtp.received[1]!.subject, /^\[muster\] RESOLVED: pi-1: node offline/);
  for (let i = 0; i < 5; i++) await step(60_000);
  assert.is(smtp.received.length, 2);
  await smtp.close();
});

test('two rules firing on one node arrive in one email; a condition gone before its for duration sends nothing', async () => {
  const smtp = await startTestSmtp();
  const { fleet: f, step, engine } = setup(smtp.port, { rules: { disk_full: { for: '0s' }, unit_failed: { for: '0s' } } });
  f.state.disk = 97;
  f.state.unitFailed = true;
  await step(10_000);
  await step(30_000);
  assert.is(smtp.received.length, 1);
  assert.match(smtp.received[0]!.subject, /FIRING: pi-1: disk full, unit failed/);
  assert.match(smtp.received[0]!.text, /filesystem \/ on pi-1 at 97% \(threshold 90%\)/);
  assert.match(smtp.received[0]!.text, /unit backup\.service on pi-1 failed/);
  assert.equal(engine.list().filter((a) => a.state === 'firing').map((a) => a.rule).sort(), ['disk_full', 'unit_failed']);

  // CPU needs 5 min: a spike of 2 min never mails.
  const spiky = setup(smtp.port);
  await spiky.step(60_000);
  assert.is(spiky.engine.list().length, 0);
  await smtp.close();
});

test('a hub restarted mid-alert sends no duplicate; an SMTP server that refuses at first gets the email once it accepts', async () => {
  const smtp = await startTestSmtp();
  const first = setup(smtp.port, { rules: { disk_full: { for: '0s' } } });
  first.fleet.state.disk = 95;
  smtp.refuseNext(2);
  await first.step(10_000);
  await first.step(30_000); // refused (1)
  assert.is(smtp.received.length, 0);
  await first.step(5_000); // backoff: not yet
  await first.step(6_000); // retry 10 s after: refused (2)
  assert.is(smtp.received.length, 0);
  assert.is(first.engine.sendFailures(), 2);
  await first.step(21_000); // retry after 20 s: accepted
  assert.is(smtp.received.length, 1);
  await first.engine.close();
  first.db.close();

  // A new hub process on the same data: the alert is known and was mailed.
  const again = setup(smtp.port, { rules: { disk_full: { for: '0s' } } }, first.dir);
  again.fleet.state.disk = 95;
  await again.step(10_000);
  await again.step(60_000);
  assert.is(smtp.received.length, 1, 'nothing sent twice');
  assert.equal(again.engine.list().map((a) => `${a.rule} ${a.state}`), ['disk_full firing']);
  again.fleet.state.disk = 50;
  await again.step(10_000);
  await again.step(30_000);
  assert.is(smtp.received.length, 2);
  assert.match(smtp.received[1]!.subject, /RESOLVED: pi-1: disk full/);
  await smtp.close();
});

test('rules scoped by node labels leave other nodes alone; an offline node\'s other alerts stay as they were', async () => {
  const smtp = await startTestSmtp();
  const s = setup(smtp.port, { rules: { disk_full: { for: '0s', nodes: { group: 'storage' } } } });
  s.fleet.state.disk = 99;
  await s.step(10_000);
  assert.equal(s.engine.list(), [], 'pi-1 has no group=storage label');
  const t = setup(smtp.port, { rules: { disk_full: { for: '0s' } } });
  t.fleet.state.disk = 99;
  await t.step(10_000);
  t.fleet.state.online = false;
  await t.step(10_000);
  const states = t.engine.list().map((a) => `${a.rule} ${a.state}`).sort();
  assert.equal(states, ['disk_full firing', 'node_offline pending']);
  await smtp.close();
});

test('a silence holds the email back; when it ends and the alert still fires, it is mailed', async () => {
  const smtp = await startTestSmtp();
  const s = setup(smtp.port, { rules: { disk_full: { for: '0s' }, unit_failed: { for: '0s' } } });
  s.silences.add({ id: 's1', node: 'pi-1', rule: 'disk_full', subject: null, comment: 'resizing the disk', createdBy: 'admin', createdAt: s.now(), endsAt: s.now() + 10 * MIN });
  s.fleet.state.disk = 97;
  await s.step(10_000);
  for (let i = 0; i < 5; i++) await s.step(60_000);
  assert.is(smtp.received.length, 0, 'silenced');
  s.fleet.state.unitFailed = true; // another rule on the same node is not silenced
  await s.step(10_000);
  await s.step(30_000);
  assert.is(smtp.received.length, 1);
  assert.match(smtp.received[0]!.subject, /FIRING: pi-1: unit failed$/);
  for (let i = 0; i < 5; i++) await s.step(60_000); // the silence ends
  assert.is(smtp.received.length, 2);
  assert.match(smtp.received[1]!.subject, /FIRING: pi-1: (disk full, unit failed|unit failed, disk full)/);
  assert.ok(s.silences.expire('s1', s.now()));
  assert.not.ok(s.silences.expire('nope', s.now()));
  await smtp.close();
});

test('routes send each alert to the people of its node label or rule; the rest to smtp.to', async () => {
  const smtp = await startTestSmtp();
  const s = setup(smtp.port, {
    routes: [{ nodes: { group: 'storage' }, to: ['storage@lab.internal'] }, { rules: ['unit_failed'], to: ['systemd@lab.internal'] }],
    rules: { disk_full: { for: '0s' }, unit_failed: { for: '0s' }, memory_high: { threshold: 40, for: '0s' } },
  });
  s.fleet.state.labels = { group: 'storage' };
  s.fleet.state.disk = 97;
  s.fleet.state.unitFailed = true;
  await s.step(10_000);
  await s.step(30_000);
  const byTo = new Map(smtp.received.map((m) => [m.to, m.subject]));
  assert.is(smtp.received.length, 2);
  assert.match(byTo.get('storage@lab.internal')!, /FIRING: pi-1: (disk full, memory high|memory high, disk full)$/);
  assert.match(byTo.get('storage@lab.internal,systemd@lab.internal')!, /unit failed/);
  s.fleet.state.labels = {}; // not a storage node any more: memory goes to smtp.to
  s.fleet.state.unitFailed = false;
  s.fleet.state.disk = 50;
  await s.step(10_000);
  await s.step(4 * 3_600_000); // repeat interval: memory still fires
  assert.ok(smtp.received.some((m) => m.to === 'ops@lab.internal' && /FIRING: pi-1: memory high/.test(m.subject)), JSON.stringify(smtp.received.map((m) => [m.to, m.subject])));
  assert.throws(() => parseAlertsConfig({ smtp: { url: 'smtp://a@b:25', from: 'a@b.c', to: ['a@b.c'] }, routes: [{ to: [] }, { rules: ['nope'], to: ['x'] }] }, 'x.yaml', {}, readSecretFile),
    /routes\[0\]\.to must list at least one.*routes\[0\] matches everything.*routes\[1\]\.to: "x" is not an email.*unknown rule 'nope'/s);
  await smtp.close();
});

test('a filesystem filling fast alerts before it crosses the threshold; a steady one does not', async () => {
  const tr = createDiskTrend();
  for (let i = 0; i <= 12; i++) tr.observe('n', '/', i * 5 * MIN, 1000 + i * 10); // 10 bytes per 5 min = 120 per hour
  assert.is(Math.round(tr.timeToFull('n', '/', 240)! / 3_600_000), 2);
  for (let i = 0; i <= 12; i++) tr.observe('n', '/flat', i * 5 * MIN, 1000);
  assert.is(tr.timeToFull('n', '/flat', 10), undefined);
  const young = createDiskTrend();
  young.observe('n', '/', 0, 1); young.observe('n', '/', 5 * MIN, 2); young.observe('n', '/', 10 * MIN, 3);
  assert.is(young.timeToFull('n', '/', 1), undefined, 'too little history to say');

  const smtp = await startTestSmtp();
  const s = setup(smtp.port, { rules: { disk_full: { for: '0s' } } });
  for (let i = 0; i < 14; i++) { // 2 % more every 5 minutes from 50 %: still under 90 % after an hour
    s.fleet.state.disk = 50 + 2 * i;
    await s.step(5 * MIN);
  }
  const firing = s.engine.list().filter((a) => a.state === 'firing');
  assert.is(firing.length, 1);
  assert.match(firing[0]!.summary, /filesystem \/ on pi-1 at 76% fills up in about 1(\.\d)? h/);
  assert.ok(smtp.received.some((m) => /FIRING: pi-1: disk full/.test(m.subject)));
  assert.throws(() => parseAlertsConfig({ rules: { cpu_high: { predict: '24h' } } }, 'x.yaml', {}, readSecretFile), /cpu_high: unknown key 'predict'/);
  await smtp.close();
});

test('SMTP with STARTTLS and a password: the upgrade happens and the password is the one configured', async () => {
  let secure = false;
  let user = '';
  let pass = '';
  const server = new SMTPServer({
    logger: false, // STARTTLS on, with smtp-server's own self-signed certificate
    onAuth(auth, session, cb) { user = auth.username ?? ''; pass = auth.password ?? ''; secure = session.secure; cb(null, { user: auth.username }); },
    onData(stream, _s, cb) { stream.resume(); stream.on('end', () => cb()); },
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.server.address() as { port: number }).port;
  const config = parseAlertsConfig({ smtp: { url: `smtp://muster@127.0.0.1:${port}?tls_verify=false`, from: 'a@b.c', to: ['ops@b.c'] } }, 'x.yaml', { MUSTER_SMTP_PASSWORD: 's3cret' }, readSecretFile);
  await createSmtpMailer(config.smtp!).send({ subject: 'test', text: 'x', html: '<p>x</p>' });
  assert.ok(secure, 'the session was upgraded before AUTH');
  assert.equal([user, pass], ['muster', 's3cret']);
  // Verifying the certificate is the default: a self-signed one is refused.
  const strict = parseAlertsConfig({ smtp: { url: `smtp://muster@127.0.0.1:${port}`, from: 'a@b.c', to: ['ops@b.c'] } }, 'x.yaml', { MUSTER_SMTP_PASSWORD: 's3cret' }, readSecretFile);
  await createSmtpMailer(strict.smtp!).send({ subject: 'test', text: 'x', html: 'x' }).then(() => assert.unreachable('a self-signed certificate passed'), (err: Error) => assert.match(err.message, /certificate/i));
  await new Promise<void>((res) => server.close(() => res()));
});

test('SMTP with a password and a server without STARTTLS: no AUTH is sent, the send fails with MUSTER_ERR_SMTP_TLS_REQUIRED', async () => {
  const smtp = await startTestSmtp({ password: 's3cret', starttls: false });
  const config = parseAlertsConfig({ smtp: { url: `smtp://muster@127.0.0.1:${smtp.port}?tls_verify=false`, from: 'a@b.c', to: ['ops@b.c'] } }, 'x.yaml', { MUSTER_SMTP_PASSWORD: 's3cret' }, readSecretFile);
  const err = await createSmtpMailer(config.smtp!).send({ subject: 'test', text: 'x', html: 'x' }).then(() => undefined, (e: { code?: string }) => e);
  assert.is(err?.code, 'MUSTER_ERR_SMTP_TLS_REQUIRED');
  assert.equal(smtp.logins, [], 'the server saw no login attempt');
  assert.is(smtp.received.length, 0);

  // Through the alert engine: the alert is not mailed, the failure is counted (and logged), and it is retried later.
  const { fleet: f, step, now, engine } = setup(smtp.port);
  await step(10_000);
  f.state.online = false;
  f.state.lastSeen = now();
  for (let i = 0; i < 4; i++) await step(60_000);
  assert.ok(engine.sendFailures() >= 1);
  assert.equal(smtp.logins, []);
  assert.is(smtp.received.length, 0);
  await smtp.close();
});

test('the test SMTP server offers STARTTLS with a fresh certificate: mail with a password goes over TLS', async () => {
  const smtp = await startTestSmtp({ password: 'pw' });
  const config = parseAlertsConfig({ smtp: { url: `smtp://muster@127.0.0.1:${smtp.port}?tls_verify=false`, from: 'a@b.c', to: ['ops@b.c'] } }, 'x.yaml', { MUSTER_SMTP_PASSWORD: 'pw' }, readSecretFile);
  await createSmtpMailer(config.smtp!).send({ subject: 'tls', text: 'x', html: 'x' });
  assert.equal(smtp.logins, ['muster']);
  assert.ok(smtp.received[0]?.secure, 'the message came over an upgraded session');
  await smtp.close();
});

test('service_down fires for a service with instances but none healthy, and names some of them', () => {
  const f = fleet();
  const view = { ...f.view(), services: () => [
    { name: 'web', healthy: 0, total: 5, down: [{ node: 'vm-1', name: 'web-1', state: 'exited' }, { node: 'vm-2', name: 'web-2', state: 'restarting' }, { node: 'vm-3', name: 'web-3', state: 'exited' }] },
    { name: 'db', healthy: 1, total: 2, down: [{ node: 'vm-1', name: 'db-2', state: 'exited' }] },
  ] };
  const conditions = evaluateRules(defaultAlertsConfig(), view).filter((c) => c.rule === 'service_down');
  assert.equal(conditions.map((c) => c.subject), ['web']);
  assert.is(conditions[0]!.summary, 'service web has no running instance (web-1 on vm-1: exited; web-2 on vm-2: restarting; web-3 on vm-3: exited; 2 more)');
  const scoped = parseAlertsConfig({ rules: { service_down: { services: ['db'] } } }, 'x.yaml', {}, readSecretFile);
  assert.equal(evaluateRules(scoped, view).filter((c) => c.rule === 'service_down'), []);
});

test('quiet hours hold warnings until they end; critical alerts go out at once', async () => {
  const smtp = await startTestSmtp();
  // 23:00 local time on some day: inside 22:00-07:00.
  const night = new Date(2026, 10, 24, 23, 0, 0).getTime();
  const s = setup(smtp.port, { quiet_hours: { start: '22:00', end: '07:00' }, rules: { memory_high: { threshold: 40, for: '0s' }, disk_full: { for: '0s' } } }, tempDir('alerts'), night);
  await s.step(10_000); // memory at 50 % > 40: a warning
  await s.step(60_000);
  assert.is(smtp.received.length, 0, 'a warning waits for the morning');
  s.fleet.state.disk = 99; // disk_full is critical
  await s.step(10_000);
  await s.step(30_000);
  assert.is(smtp.received.length, 1);
  assert.match(smtp.received[0]!.subject, /FIRING: pi-1: disk full$/);
  await s.step(8 * 60 * MIN); // 07:01 and later
  assert.is(smtp.received.length, 2);
  assert.match(smtp.received[1]!.subject, /memory high/);
  assert.throws(() => parseAlertsConfig({ quiet_hours: { start: '25:00', end: '7' } }, 'x.yaml', {}, readSecretFile), /quiet_hours\.start must be a time like 22:00.*quiet_hours\.end must be a time/s);
  await smtp.close();
});

test.run();
