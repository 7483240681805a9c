/** The log flags of `muster hub`: the recent-log store's bounds and the Loki targets. */
import { readFileSync } from 'node:fs';
import { CliError } from './config.ts';
import { parseDuration } from '../hub/durations.ts';
import { parseBytes } from '../hub/placement.ts';
import type { HubLogsOptions } from '../hub/logs/hub-logs.ts';
import type { LokiTarget } from '../hub/logs/loki-pusher.ts';

/** The flags, for parseFlags. */
export const LOGS_FLAGS = {
  loki: { type: 'string', multiple: true },
  'loki-tenant': { type: 'string' },
  'loki-basic-auth-file': { type: 'string' },
  'loki-bearer-token-file': { type: 'string' },
  'loki-format': { type: 'string' },
  'loki-batch-wait': { type: 'string' },
  'loki-max-backoff': { type: 'string' },
  'logs-max-age': { type: 'string' },
  'logs-max-size': { type: 'string' },
} as const;

/** Their part of --help. */
export const LOGS_USAGE = `  --logs-max-age DUR  how long the hub keeps agents' log lines for 'muster logs'
                      and as the Loki spool (default 24h)
  --logs-max-size SZ  bytes of log lines kept at most (default 1GiB); the
                      oldest go first, counted if a Loki had not taken them
  --loki URL          push every node's logs to this Loki (repeatable), e.g.
                      http://loki:3100 (/loki/api/v1/push is added), as
                      promtail does: protobuf and snappy, batched (256 KiB or
                      --loki-batch-wait), retried with backoff on 429 and 5xx
  --loki-tenant ID    X-Scope-OrgID for a multi-tenant Loki
  --loki-basic-auth-file FILE
                      USER:PASSWORD for Loki's basic auth, read from FILE
  --loki-bearer-token-file FILE
                      a bearer token for Loki, read from FILE
  --loki-format F     protobuf (default) or json
  --loki-batch-wait DUR
                      how long lines wait for more to fill a push (default 1s)
  --loki-max-backoff DUR
                      longest wait between retries while Loki fails (default 5m)
`;

type Values = { [K in keyof typeof LOGS_FLAGS]?: (typeof LOGS_FLAGS)[K] extends { multiple: true } ? string[] : string };

/** Parses a short duration: 500ms as well as parseDuration's 10s, 5m, 1h, 7d. */
function ms(s: string): number | undefined {
  const m = /^(\d+)ms$/.exec(s);
  return m ? Number(m[1]) : parseDuration(s);
}

function readSecret(file: string, flag: string): string {
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (!text) throw new Error('the file is empty');
    return text;
  } catch (err) {
    throw new CliError('MUSTER_ERR_USAGE', `${flag} ${file}: ${(err as Error).message}`, 2);
  }
}

/** Checks the flags, reporting every problem at once; secrets are read from their files here. */
export function parseLogsFlags(values: Values): HubLogsOptions {
  const problems: string[] = [];
  const opts: HubLogsOptions = {};
  const store: NonNullable<HubLogsOptions['store']> = {};
  if (values['logs-max-age'] !== undefined) {
    const v = parseDuration(values['logs-max-age']);
    if (!v || v < 60_000) problems.push(`--logs-max-age needs a duration of at least 1m like 24h or 7d, not ${JSON.stringify(values['logs-max-age'])}`);
    else store.maxAgeMs = v;
  }
  if (values['logs-max-size'] !== undefined) {
    const v = parseBytes(values['logs-max-size']);
    if (v === undefined || v < 1024 * 1024) problems.push(`--logs-max-size needs a size of at least 1MiB like 512MiB or 4GiB, not ${JSON.stringify(values['logs-max-size'])}`);
    else store.maxBytes = v;
  }
  if (Object.keys(store).length) opts.store = store;
  const urls = values.loki ?? [];
  const lokiOnly = (['loki-tenant', 'loki-basic-auth-file', 'loki-bearer-token-file', 'loki-format', 'loki-batch-wait', 'loki-max-backoff'] as const).filter((k) => values[k] !== undefined);
  if (urls.length === 0 && lokiOnly.length) problems.push(`${lokiOnly.map((k) => `--${k}`).join(', ')} need --loki URL`);
  for (const u of urls) {
    try {
      const parsed = new URL(u);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.push(`--loki must be an http(s):// URL, not ${u}`);
      if (parsed.username || parsed.password) problems.push('--loki URLs carry no credentials (every user of the machine sees the command line): use --loki-basic-auth-file');
    } catch {
      problems.push(`--loki is not a URL: ${u}`);
    }
  }
  const format = values['loki-format'] ?? 'protobuf';
  if (format !== 'protobuf' && format !== 'json') problems.push(`--loki-format must be protobuf or json, not ${JSON.stringify(format)}`);
  if (values['loki-basic-auth-file'] && values['loki-bearer-token-file']) problems.push('--loki-basic-auth-file and --loki-bearer-token-file contradict each other; give one');
  const push: NonNullable<HubLogsOptions['push']> = {};
  if (values['loki-batch-wait'] !== undefined) {
    const v = ms(values['loki-batch-wait']);
    if (v === undefined || v < 10 || v > 60_000) problems.push(`--loki-batch-wait needs a duration from 10ms to 1m, not ${JSON.stringify(values['loki-batch-wait'])}`);
    else push.batchWaitMs = v;
  }
  if (values['loki-max-backoff'] !== undefined) {
    const v = ms(values['loki-max-backoff']);
    if (v === undefined || v < 100) problems.push(`--loki-max-backoff needs a duration of at least 100ms, not ${JSON.stringify(values['loki-max-backoff'])}`);
    else {
      push.maxBackoffMs = v;
      push.minBackoffMs = Math.min(500, v);
    }
  }
  if (problems.length) throw new CliError('MUSTER_ERR_USAGE', problems.join('\n'), 2);
  if (urls.length) {
    let auth: Pick<LokiTarget, 'basicAuth' | 'bearerToken'> = {};
    if (values['loki-basic-auth-file']) {
      const text = readSecret(values['loki-basic-auth-file'], '--loki-basic-auth-file');
      const i = text.indexOf(':');
      if (i <= 0) throw new CliError('MUSTER_ERR_USAGE', `--loki-basic-auth-file must hold USER:PASSWORD`, 2);
      auth = { basicAuth: { user: text.slice(0, i), password: text.slice(i + 1) } };
    } else if (values['loki-bearer-token-file']) {
      auth = { bearerToken: readSecret(values['loki-bearer-token-file'], '--loki-bearer-token-file') };
    }
    opts.loki = urls.map((url) => ({ url, encoding: format as 'protobuf' | 'json', ...(values['loki-tenant'] ? { tenant: values['loki-tenant'] } : {}), ...auth }));
    if (Object.keys(push).length) opts.push = push;
  }
  return opts;
}
