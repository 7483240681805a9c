/** Shared flag parsing for the CLI's commands, turning node:util errors into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './config.ts';

/** parseArgs with strict checking; a bad flag is a CliError with exit code 2. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new CliError('MUSTER_ERR_USAGE', (err as Error).message, 2);
  }
}

/** Parses HOST:PORT, [v6]:PORT or :PORT. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError('MUSTER_ERR_USAGE', `--listen must be HOST:PORT (e.g. 0.0.0.0:7070 or 127.0.0.1:0), not ${JSON.stringify(s)}`, 2);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
