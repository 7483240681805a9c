/**
 * The journal source with the real thing: the bundled agent as a systemd
 * service on a Debian 12 machine (systemd as PID 1, journald, Debian's
 * Node 18, test/helpers/systemd-node.ts), reading a unit's output through
 * its one `journalctl --follow`, to a real hub on loopback and on to the
 * strict Loki stand-in.
 *
 * - A unit prints 300 numbered lines at syslog priorities 1..7 (journald
 *   reads the `<N>` prefix): at the hub each line has its unit, the level its
 *   priority maps to (levels.ts) and the unit's PID; in Loki the unit and
 *   level are labels and the PID structured metadata.
 * - The agent is SIGKILLed halfway and started again: it resumes after the
 *   last cursor it saved, so every line arrives, none missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { api, AGENT_BUNDLE, joinToken, startHubProcess, waitFor, type HubProc } from '../helpers/processes.ts';
import { startSystemdNode, systemdNodeReady, type SystemdNode } from '../helpers/systemd-node.ts';
import { startLokiStandIn, type LokiStandIn } from '../helpers/loki.ts';
import { dirname } from 'node:path';

const NAME = `muster-t-journald-${process.pid}`;
const UNIT = 'muster-t-counter';
const LINES = 300;
let hub: HubProc | undefined;
let loki: LokiStandIn | undefined;
let node: SystemdNode | undefined;

/** The level a syslog priority maps to, as the issue asks: emerg..crit critical, notice info. */
const LEVEL = ['critical', 'critical', 'critical', 'error', 'warn', 'info', 'info', 'debug'];
/** The priority the unit gives line i. */
const priorityOf = (i: number) => (i % 7) + 1;

interface Line { line: string; instance: string; service: string; kind: string; level?: string; pid?: number }

test.after(async () => {
  await node?.destroy();
  await hub?.stop();
  await loki?.close();
});

test('a unit\'s lines reach the hub and Loki with unit, level and PID, and an agent SIGKILLed resumes from its cursor', async () => {
  if (!(await systemdNodeReady())) return;
  const started = Date.now();
  loki = await startLokiStandIn();
  hub = await startHubProcess({ dns: 'off', args: ['--loki', loki.url, '--loki-batch-wait', '100ms'] });
  const token = await joinToken(hub);
  node = await startSystemdNode({ name: NAME, volumes: [`${dirname(AGENT_BUNDLE)}:/opt/muster:ro`, `${hub.caFile}:/opt/muster-ca.crt:ro`] });
  // A plain unit, as install.sh writes one: systemd (not a test's pipe) holds the agent, and SIGKILL is systemctl's.
  await node.sh(`cat > /etc/systemd/system/muster-agent.service <<'EOF'
[Service]
ExecStart=/usr/bin/node /opt/muster/muster-agent.js --hub ${hub.url} --join ${token} --name ${NAME} --state /var/lib/muster-agent --ca-file /opt/muster-ca.crt --interval 1s
EOF
systemctl daemon-reload && systemctl start muster-agent`);
  await waitFor('the node online', async () => (await api(hub!.url, hub!.adminToken, `/api/v1/nodes/${NAME}`)).body.online, 30_000, 250);

  await node.sh(`systemd-run --unit=${UNIT} sh -c 'i=1; while [ $i -le ${LINES} ]; do echo "<$((i % 7 + 1))>line $i"; i=$((i+1)); sleep 0.03; done; sleep 3600'`);
  const pid = Number(await node.sh(`systemctl show -p MainPID --value ${UNIT}`));
  assert.ok(pid > 1, `the unit's main PID: ${pid}`);
  const atHub = async (): Promise<Line[]> =>
    (await api(hub!.url, hub!.adminToken, `/api/v1/logs?node=${NAME}&unit=${UNIT}&limit=5000`)).body.lines ?? [];
  const numbers = (lines: { line: string }[]) => lines.map((l) => /^line (\d+)$/.exec(l.line)?.[1]).filter((n): n is string => n !== undefined).map(Number);

  await waitFor('some lines at the hub', async () => numbers(await atHub()).length >= 60, 30_000, 200);
  await node.sh('systemctl kill -s KILL muster-agent');
  await waitFor('the agent gone', async () => (await node!.exec('systemctl is-active muster-agent')).stdout.trim() !== 'active', 10_000, 100);
  const whileAway = numbers(await atHub()).length;
  // The unit goes on printing while no agent reads the journal.
  await new Promise((r) => setTimeout(r, 2_000));
  await node.sh('systemctl start muster-agent');

  const lines = await waitFor(`all ${LINES} at the hub`, async () => {
    const l = await atHub();
    return new Set(numbers(l)).size === LINES ? l : undefined;
  }, 60_000, 500);
  const got = numbers(lines);
  // One long-lived journalctl, the agent's child, not one per read (minbase has no procps: /proc it is).
  const agentPid = await node.sh('systemctl show -p MainPID --value muster-agent');
  assert.is(await node.sh('for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = journalctl ] && cut -d" " -f4 $p/stat; done; :'), agentPid);
  assert.ok(whileAway < LINES, `the kill came before the unit was done (${whileAway} lines at the hub then)`);
  assert.equal([...new Set(got)].sort((a, b) => a - b), Array.from({ length: LINES }, (_, i) => i + 1), 'none missing');
  const twice = got.filter((n, i) => got.indexOf(n) !== i);
  assert.ok(twice.length <= 5, `${twice.length} lines repeated at the seam: ${twice.join(' ')}`);
  for (const l of lines) {
    const i = Number(/^line (\d+)$/.exec(l.line)?.[1]);
    if (!i) continue;
    assert.equal({ instance: l.instance, service: l.service, kind: l.kind, level: l.level, pid: l.pid },
      { instance: `${UNIT}.service`, service: UNIT, kind: 'journal', level: LEVEL[priorityOf(i)], pid }, l.line);
  }

  const inLoki = await waitFor(`all ${LINES} in Loki`, () => {
    const e = loki!.entries({ unit: `${UNIT}.service` }).filter((x) => /^line \d+$/.test(x.line));
    return new Set(e.map((x) => x.line)).size === LINES ? e : undefined;
  }, 30_000, 200);
  for (const e of inLoki) {
    const i = Number(e.line.slice(5));
    assert.equal(e.labels, { instance: NAME, job: 'systemd-journal', level: LEVEL[priorityOf(i)]!, service_name: UNIT, unit: `${UNIT}.service` }, e.line);
    assert.equal(e.meta, { pid: String(pid) }, e.line);
  }
  assert.ok(loki.pushes.every((p) => p.status === 204), JSON.stringify(loki.pushes.filter((p) => p.status !== 204).slice(0, 3)));
  // The agent's own lines are a unit's lines like any other.
  assert.ok(loki.entries({ unit: 'muster-agent.service' }).some((e) => /connected to hub/.test(e.line)), 'the agent\'s own journal lines');
  process.stdout.write(`  [${LINES} journal lines through a SIGKILL: ${got.length - LINES} repeated; ${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
});

test.run();
