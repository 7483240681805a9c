/**
 * `muster up`: a hub and an agent for this machine in one process, the
 * client configured, and the one-line command to join another node printed.
 */
import { resolve, join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { startHub } from '../../hub/main.ts';
import { parseAgentArgs, startAgent, UsageError } from '../../agent/main.ts';
import { createLogger } from '../../agent/log.ts';
import { MUSTER_VERSION } from '../../protocol/index.ts';
import { parseFlags, parseListen } from '../args.ts';
import { CliError, writeClientConfig } from '../config.ts';
import { tlsFlags, untilSignal } from './hub.ts';
import type { Io } from '../io.ts';
import { DNS_FLAGS, DNS_USAGE, parseDnsFlags } from '../dns-flags.ts';
import { agentInstallLine } from '../install-line.ts';

export const UP_USAGE = `Usage: muster up [options]

Starts a hub (SQLite under --data) and an agent for this machine joined to it,
configures the CLI so that 'muster nodes' works right away, and prints the
command that joins another node.

Options:
  --data DIR          data directory (default ./data)
  --listen HOST:PORT  hub address (default 0.0.0.0:7070)
  --name NAME         this node's name (default: the host name)
  --state DIR         agent state directory (default DIR/agent)
  --interval DUR      agent sample period (default 10s)
  --label K=V         label for this node, repeatable
  --tls-san NAME      another name or address nodes reach the hub by (repeatable)
  --no-tls            plain HTTP (tokens and secrets in clear; warned about)
${DNS_USAGE}  --log-level LEVEL   hub and agent log level (default warn)
  -h, --help          show this help
`;

/** An address other machines can probably reach this one on. */
function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export async function upCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string' }, listen: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' },
    interval: { type: 'string' }, label: { type: 'string', multiple: true }, 'log-level': { type: 'string' },
    'tls-san': { type: 'string', multiple: true }, 'no-tls': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    ...DNS_FLAGS,
  });
  if (values.help) { io.out(UP_USAGE); return 0; }
  const { host, port } = parseListen(values.listen ?? '0.0.0.0:7070');
  const dns = parseDnsFlags(values);
  const dataDir = resolve(values.data ?? 'data');
  const level = values['log-level'] ?? 'warn';
  const agentArgs = ['--hub', 'http://127.0.0.1:1', '--state', values.state ?? join(dataDir, 'agent'), '--log-level', level];
  if (values.name) agentArgs.push('--name', values.name);
  if (values.interval) agentArgs.push('--interval', values.interval);
  for (const l of values.label ?? []) agentArgs.push('--label', l);
  let agentConfig;
  try {
    agentConfig = parseAgentArgs(agentArgs, {});
  } catch (err) {
    if (err instanceof UsageError) throw new CliError('MUSTER_ERR_USAGE', err.message, 2);
    throw err;
  }
  if (typeof agentConfig === 'string') return 0;

  const hub = await startHub({ dataDir, host, port, dns, logger: { level }, tls: tlsFlags(values) });
  const scheme = hub.caHash ? 'https' : 'http';
  const local = `${scheme}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${hub.port}`;
  const joinToken = hub.tokens.create('agent', { label: 'muster up', ttlMs: 24 * 3_600_000 }).token;
  const agent = await startAgent({ ...agentConfig, hub: local, joinToken, ...(hub.caFile ? { caFile: hub.caFile } : {}) }, {
    log: createLogger({ level: agentConfig.logLevel, prefix: 'agent: ' }),
    onFatal: (code, reason) => io.err(`muster up: the local agent was refused by the hub (${code}): ${reason}\n`),
  }).catch(async (err: Error) => {
    await hub.close();
    throw new CliError('MUSTER_ERR_AGENT', err.message);
  });
  const configFile = writeClientConfig(io.env, { hub: local, token: hub.adminToken, ...(hub.caFile ? { caFile: hub.caFile } : {}) });
  const reach = `${scheme}://${host === '0.0.0.0' || host === '::' ? lanAddress() : local.replace(/^https?:\/\//, '').replace(/:\d+$/, '')}:${hub.port}`;
  const installLine = agentInstallLine({ hub: reach, token: joinToken, caHash: hub.caHash });
  io.out([
    `muster ${MUSTER_VERSION} is up.`,
    ``,
    `  API          ${local}   (listening on ${host}:${hub.port})`,
    `  admin token  ${hub.adminToken}`,
    `               saved in ${join(dataDir, 'admin.token')}; CLI configured in ${configFile}`,
    `  this node    ${agentConfig.name} (agent state in ${agentConfig.stateDir})`,
    ...(dns ? [`  DNS          ${dns.host}:${hub.dnsPort} udp/tcp, domain ${dns.domain}   try: dig @${dns.host} -p ${hub.dnsPort} ${agentConfig.name.toLowerCase()}.node.${dns.domain}`] : []),
    ``,
    `See the fleet:   npx muster nodes`,
    `Add another node: run this there, as root or a user with sudo (Debian, Ubuntu or Raspberry Pi OS`,
    `with systemd; the token is valid 24 h; agent flags such as --name or --label K=V go at the end):`,
    ``,
    installLine,
    ``,
    `Press Ctrl-C to stop.`,
    ``,
  ].join('\n'));
  await untilSignal();
  await agent.close();
  await hub.close();
  return 0;
}
