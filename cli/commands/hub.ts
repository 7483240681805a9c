/** `muster hub`: runs a hub in the foreground until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { startHub, type RunningHub } from '../../hub/main.ts';
import { parseFlags, parseListen } from '../args.ts';
import type { Io } from '../io.ts';
import { DNS_FLAGS, DNS_USAGE, parseDnsFlags } from '../dns-flags.ts';
import { LOGS_FLAGS, LOGS_USAGE, parseLogsFlags } from '../logs-flags.ts';
import { AlertsConfigError, loadAlertsConfig } from '../../hub/alerts/config.ts';
import { CliError } from '../config.ts';
import { parseBytes } from '../../hub/placement.ts';
import type { WriteBudgetOptions } from '../../hub/write-budget.ts';
import type { TlsConfig } from '../../hub/tls.ts';
import { parseDuration } from '../../hub/durations.ts';

export const HUB_USAGE = `Usage: muster hub [--data DIR] [--listen HOST:PORT] [--dns-listen HOST:PORT] [options]

Runs the muster hub: the inventory (SQLite under DIR), the API, the agent
endpoint and the DNS server (<node>.node.internal, <service>.service.internal).
On first start it writes an admin token to DIR/admin.token (0600), and makes
its own certificate authority in DIR/tls/ (ca.crt; keys 0600): the API and
the agent endpoint are HTTPS and WSS, and agents pin the CA by the hash it
prints (--ca-hash sha256:...).

Options:
  --data DIR          data directory (default ./data)
  --listen HOST:PORT  address for the API and agents (default 0.0.0.0:7070)
  --tls-san NAME      another host name or address agents reach the hub by,
                      for its certificate (repeatable; this machine's names and
                      addresses are always in it)
  --tls-cert FILE     serve your own certificate (PEM, chain after it) instead
  --tls-key FILE      of the hub's own CA; loaded again when the files change
  --no-tls            plain HTTP: tokens and secrets cross the network in
                      clear (a warning at every start)
  --agent-bundle FILE the agent bundle to serve and push (muster agents upgrade);
                      default: the one built with this hub (dist/muster-agent.js)
  --metrics-public    serve /metrics and Prometheus service discovery without
                      a token (by default they need one of role metrics:
                      muster token create --role metrics)
  --audit-retention DURATION
                      how long the audit log keeps who did what (default 90d)
${DNS_USAGE}${LOGS_USAGE}  --alerts FILE       alert rules and email (YAML; see README "Alerts by email").
                      Without it the built-in rules run and show in 'muster alerts',
                      and nothing is mailed. The SMTP password comes from
                      MUSTER_SMTP_PASSWORD or smtp.password_file (mode 0600).
  --node-bytes-per-minute SIZE
                      what one node may have the hub store, sustained (default
                      512KiB; a busy node uses ~40KiB); a quiet node banks two
                      hours of it for replaying an outage. A node over it is
                      paused and keeps its data until its budget refills.
  --node-rows-per-minute N
                      the same in rows: samples and workload items (default 2000)
  --log-level LEVEL   trace, debug, info, warn, error (default info)
  -h, --help          show this help
`;

/** The TLS flags of `muster hub` and `muster up`, checked. */
export function tlsFlags(values: { 'tls-san'?: string[]; 'tls-cert'?: string; 'tls-key'?: string; 'no-tls'?: boolean }): TlsConfig {
  const problems: string[] = [];
  if (values['no-tls'] && (values['tls-cert'] || values['tls-key'] || values['tls-san'])) problems.push('--no-tls contradicts --tls-cert, --tls-key and --tls-san; give one or the other');
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) problems.push('--tls-cert and --tls-key go together');
  for (const s of values['tls-san'] ?? []) if (!/^[A-Za-z0-9.:-]{1,253}$/.test(s)) problems.push(`--tls-san must be a host name or an IP address, not ${JSON.stringify(s)}`);
  if (problems.length) throw new CliError('MUSTER_ERR_USAGE', problems.join('\n'), 2);
  if (values['no-tls']) return { disabled: true };
  return {
    ...(values['tls-cert'] ? { certFile: resolve(values['tls-cert']), keyFile: resolve(values['tls-key']!) } : {}),
    ...(values['tls-san'] ? { sans: values['tls-san'] } : {}),
  };
}

/** Waits for SIGINT or SIGTERM once. */
export function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); res(); };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function hubCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string' }, listen: { type: 'string' }, 'log-level': { type: 'string' }, alerts: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    'node-bytes-per-minute': { type: 'string' }, 'node-rows-per-minute': { type: 'string' },
    'tls-san': { type: 'string', multiple: true }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'no-tls': { type: 'boolean' },
    'metrics-public': { type: 'boolean' }, 'agent-bundle': { type: 'string' }, 'audit-retention': { type: 'string' },
    ...LOGS_FLAGS,
    ...DNS_FLAGS,
  });
  if (values.help) { io.out(HUB_USAGE); return 0; }
  const { host, port } = parseListen(values.listen ?? '0.0.0.0:7070');
  const dns = parseDnsFlags(values);
  const dataDir = resolve(values.data ?? 'data');
  let alerts;
  if (values.alerts) {
    try {
      alerts = loadAlertsConfig(values.alerts, io.env);
    } catch (err) {
      if (err instanceof AlertsConfigError) throw new CliError(err.code, err.message, 2);
      throw err;
    }
  }
  const writeBudget: WriteBudgetOptions = {};
  if (values['node-bytes-per-minute'] !== undefined) {
    const b = parseBytes(values['node-bytes-per-minute']);
    if (b === undefined || b < 1024) throw new CliError('MUSTER_ERR_USAGE', `--node-bytes-per-minute needs a size of at least 1KiB like 512KiB or 2MiB, not ${JSON.stringify(values['node-bytes-per-minute'])}`, 2);
    writeBudget.bytesPerMinute = b;
  }
  if (values['node-rows-per-minute'] !== undefined) {
    const r = Number(values['node-rows-per-minute']);
    if (!Number.isInteger(r) || r < 10) throw new CliError('MUSTER_ERR_USAGE', `--node-rows-per-minute needs a whole number of at least 10, not ${JSON.stringify(values['node-rows-per-minute'])}`, 2);
    writeBudget.rowsPerMinute = r;
  }
  const tls = tlsFlags(values);
  const logs = parseLogsFlags(values);
  const auditRetentionMs = values['audit-retention'] === undefined ? undefined : parseDuration(values['audit-retention']);
  if (values['audit-retention'] !== undefined && !auditRetentionMs) throw new CliError('MUSTER_ERR_USAGE', `--audit-retention needs a duration like 90d or 365d, not ${JSON.stringify(values['audit-retention'])}`, 2);
  const hub: RunningHub = await startHub({ dataDir, host, port, dns, logger: { level: values['log-level'] ?? 'info' }, writeBudget, tls, metricsPublic: values['metrics-public'] === true,
    ...(values['agent-bundle'] ? { agentBundle: resolve(values['agent-bundle']) } : {}), ...(alerts ? { alerts } : {}), ...(auditRetentionMs ? { auditRetentionMs } : {}), logs });
  io.out(`hub listening on ${hub.url} (data ${dataDir})\n`);
  if (hub.caHash) io.out(`TLS: agents pin the hub with --ca-hash ${hub.caHash}${hub.caFile ? ` (CA certificate ${hub.caFile})` : ''}\n`);
  else io.out('TLS is OFF (--no-tls): tokens and secrets cross the network in clear\n');
  if (dns) io.out(`dns listening on ${dns.host}:${hub.dnsPort} (udp and tcp), domain ${dns.domain}\n`);
  if (hub.adminTokenCreated) io.out(`admin token written to ${dataDir}/admin.token\n`);
  for (const t of logs.loki ?? []) io.out(`logs pushed to Loki at ${t.url}${t.tenant ? ` (tenant ${t.tenant})` : ''}\n`);
  if (alerts?.smtp) io.out(`alerts mailed to ${alerts.smtp.to.join(', ')} via ${new URL(alerts.smtp.url).host}\n`);
  await untilSignal();
  await hub.close();
  return 0;
}
