#!/usr/bin/env node
/** The `muster` command: dispatches to one subcommand and turns errors into clean messages and exit codes. */
import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { MUSTER_VERSION } from '../protocol/version.ts';
import { CliError } from './config.ts';
import type { Io } from './io.ts';
import { ensureHubRuntime } from './runtime-flags.ts';

const USAGE = `muster ${MUSTER_VERSION}: monitoring and service discovery for small fleets

Usage: muster <command> [options]

Commands:
  up        start a hub and an agent for this machine (quick start)
  hub       run the hub: inventory, API, agent endpoint
  agent     run the agent on a node: muster agent --hub URL --join TOKEN
  nodes     list nodes (or 'muster nodes NAME' for one)
  services  list services and where their instances run
  where     where and how one service runs: muster where NAME
  ps        containers, units and processes of one node: muster ps --node NAME
  events    what changed: containers started/died, units failed, ports opened
  logs      a service's log lines across the fleet: muster logs NAME [-f]
  recommend which nodes have room for a new service, and why the others do not
  deploy    push a container (or a restart, stop, unit action) to a node's agent
  jobs      deploy jobs and their output: muster jobs show ID
  alerts    what is firing: nodes offline, disks full, units failed...
  silence   hold back alert email: muster silence add --node X --for 2h --comment why
  token     create, list and revoke people's tokens, join tokens and node credentials
  whoami    the name, role and scope of the token in use
  audit     who did what: every change through the API, and every refusal
  agents    agent versions; push the hub's agent to nodes: muster agents upgrade --all
  install   run the hub as a systemd service: sudo muster install hub (uninstall: muster uninstall hub)

Run 'muster <command> --help' for a command's options. The CLI finds the hub
through --hub/--token, MUSTER_HUB/MUSTER_TOKEN, or the config 'muster up' writes.
`;

type Command = (argv: string[], io: Io) => Promise<number>;
/** Commands that run a hub in this process. */
const HUB_COMMANDS = new Set(['hub', 'up']);
/**
 * Each command's module is loaded when it runs: `muster nodes` has no business
 * loading the hub's HTTP server and database driver (the package's startup
 * time is in bench/README.md).
 */
const COMMANDS: Record<string, Command> = {
  up: async (a, io) => (await import('./commands/up.ts')).upCommand(a, io),
  hub: async (a, io) => (await import('./commands/hub.ts')).hubCommand(a, io),
  nodes: async (a, io) => (await import('./commands/nodes.ts')).nodesCommand(a, io),
  token: async (a, io) => (await import('./commands/token.ts')).tokenCommand(a, io),
  whoami: async (a, io) => (await import('./commands/team.ts')).whoamiCommand(a, io),
  audit: async (a, io) => (await import('./commands/team.ts')).auditCommand(a, io),
  services: async (a, io) => (await import('./commands/services.ts')).servicesCommand(a, io),
  where: async (a, io) => (await import('./commands/services.ts')).whereCommand(a, io),
  ps: async (a, io) => (await import('./commands/ps.ts')).psCommand(a, io),
  events: async (a, io) => (await import('./commands/events.ts')).eventsCommand(a, io),
  logs: async (a, io) => (await import('./commands/logs.ts')).logsCommand(a, io),
  recommend: async (a, io) => (await import('./commands/deploy.ts')).recommendCommand(a, io),
  deploy: async (a, io) => (await import('./commands/deploy.ts')).deployCommand(a, io),
  jobs: async (a, io) => (await import('./commands/deploy.ts')).jobsCommand(a, io),
  alerts: async (a, io) => (await import('./commands/alerts.ts')).alertsCommand(a, io),
  silence: async (a, io) => (await import('./commands/alerts.ts')).silenceCommand(a, io),
  agents: async (a, io) => (await import('./commands/agents.ts')).agentsCommand(a, io),
  install: async (a, io) => (await import('./commands/install.ts')).installCommand(a, io),
  uninstall: async (a, io) => (await import('./commands/install.ts')).uninstallCommand(a, io),
  agent: async (argv, io) => (await import('../agent/main.ts')).runAgentCommand({ argv, env: io.env, out: io.out, err: io.err }),
};

/** Runs one CLI invocation; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { io.out(USAGE); return cmd ? 0 : 2; }
  if (cmd === '--version' || cmd === 'version') { io.out(`muster ${MUSTER_VERSION}\n`); return 0; }
  const run = COMMANDS[cmd];
  if (!run) { io.err(`muster: unknown command '${cmd}'\n\n${USAGE}`); return 2; }
  // The hub's database driver (better-sqlite3 13) needs Node 22; on older ones it crashes instead of failing cleanly.
  if (HUB_COMMANDS.has(cmd) && Number(process.versions.node.split('.')[0]) < 22 && !rest.some((a) => a === '--help' || a === '-h')) {
    io.err(`muster ${cmd}: the hub needs Node.js 22 or newer; this is ${process.version}. Install a current Node.js (https://nodejs.org, or NodeSource's packages), or run the hub with the Node.js that came with this checkout: npm start.\n`);
    return 1;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`muster ${cmd}: ${err.message}\n${err.exitCode === 2 ? `Run 'muster ${cmd} --help' for usage.\n` : ''}`);
      return err.exitCode;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') { io.err(`muster ${cmd}: the address is already in use (${e.message}); pick another with --listen\n`); return 1; }
    if (e.code === 'EACCES') { io.err(`muster ${cmd}: permission denied: ${e.message}\n`); return 1; }
    io.err(`muster ${cmd}: ${e.stack ?? String(err)}\n`);
    return 1;
  }
}

const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  ensureHubRuntime(process.argv[2], process.env);
  // Questions go to stderr, so a command's answer on stdout stays clean for pipes.
  const ask = process.stdin.isTTY ? async (question: string) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try { return await rl.question(question); } finally { rl.close(); }
  } : undefined;
  main(process.argv.slice(2), { env: process.env, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), ...(ask ? { ask } : {}) })
    .then((code) => { process.exitCode = code; });
}
