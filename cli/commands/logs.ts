/** `muster logs`: every instance of a service (or everything on a node), across nodes, merged in time order. */
import { createApiClient, streamLines } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import type { Io } from '../io.ts';
import type { LogLineView } from '../../hub/routes/logs.ts';

export const LOGS_USAGE = `Usage: muster logs SERVICE [options]
       muster logs --node NAME [--container NAME | --unit NAME] [options]

Prints the log lines of every instance of a service, on whichever nodes it
runs, merged in time order and prefixed with node and instance, like
'docker compose logs' for the fleet. From the hub's recent logs (24 h by
default), with or without Loki.

Options:
  --node NAME       only this node (repeatable); without SERVICE, everything on it
  --container NAME  only this container
  --unit NAME       only this systemd unit (nginx or nginx.service)
  --since WHEN      a duration back from now (10m, 2h, 1d) or an ISO time
                    (default: the newest lines, however old)
  --grep RE         only lines matching the regular expression
  -n, --tail N      at most the newest N lines (default 200, at most 50000)
  -f, --follow      keep printing new lines as they arrive (Ctrl-C to stop)
  -t, --timestamps  print each line's time
  --json            one JSON object per line (NDJSON), as the API gives them
  --hub URL         hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN     a viewer, deployer or admin token (env MUSTER_TOKEN)
  --ca-file FILE    the hub's CA certificate (env MUSTER_CA_FILE)
`;

/** The prefix of a line: node and instance, padded so the lines line up. */
function prefixer(): (l: LogLineView) => string {
  let width = 0;
  return (l) => {
    const p = `${l.node}/${l.instance}`;
    width = Math.min(48, Math.max(width, p.length));
    return `${p.padEnd(width)} | `;
  };
}

export async function logsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    node: { type: 'string', multiple: true }, container: { type: 'string' }, unit: { type: 'string' }, since: { type: 'string' },
    grep: { type: 'string' }, tail: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' }, timestamps: { type: 'boolean', short: 't' },
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) { io.out(LOGS_USAGE); return 0; }
  if (positionals.length > 1) throw new CliError('MUSTER_ERR_USAGE', `one service at a time, not ${positionals.join(' ')}`, 2);
  const service = positionals[0];
  if (!service && !values.node?.length) throw new CliError('MUSTER_ERR_USAGE', 'say whose logs: muster logs SERVICE, or muster logs --node NAME', 2);
  if (values.container && values.unit) throw new CliError('MUSTER_ERR_USAGE', '--container and --unit contradict each other; give one', 2);
  const tail = values.tail ?? '200';
  if (!/^\d+$/.test(tail) || Number(tail) < 1 || Number(tail) > 50_000) throw new CliError('MUSTER_ERR_USAGE', `--tail must be a number from 1 to 50000, not ${JSON.stringify(values.tail)}`, 2);
  const query = new URLSearchParams({ limit: tail });
  if (service) query.set('service', service);
  for (const n of values.node ?? []) query.append('node', n);
  if (values.container) query.set('container', values.container);
  if (values.unit) query.set('unit', values.unit);
  if (values.since) query.set('since', values.since);
  if (values.grep) query.set('grep', values.grep);
  const cfg = resolveClient(values, io.env);
  const prefix = prefixer();
  const print = (l: LogLineView) => {
    if (values.json) io.out(JSON.stringify(l) + '\n');
    else io.out(`${prefix(l)}${values.timestamps ? `${l.time} ` : ''}${l.line}\n`);
  };
  if (!values.follow) {
    const res = await createApiClient(cfg).get<{ lines: LogLineView[] }>(`/api/v1/logs?${query}`);
    for (const l of res.lines) print(l);
    if (res.lines.length === 0 && !values.json) io.err('No log lines.\n');
    return 0;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await streamLines(cfg, `/api/v1/logs/stream?${query}`, (text) => {
      const l = JSON.parse(text) as LogLineView | Record<string, never>;
      if ('line' in l) print(l as LogLineView);
    }, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
