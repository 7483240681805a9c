/** A small line logger for the agent (no dependencies: the agent bundle stays tiny). */
export type LogFields = Record<string, unknown>;

export interface AgentLogger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Writes `time level msg key=value...` lines (or JSON lines) to a stream. */
export function createLogger(opts: { level?: LogLevel; json?: boolean; write?: (line: string) => void; prefix?: string } = {}): AgentLogger {
  const min = LEVELS[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields: LogFields = {}) => {
    if (LEVELS[level] < min) return;
    const time = new Date().toISOString();
    if (opts.json) {
      write(JSON.stringify({ time, level, msg, ...fields }));
      return;
    }
    const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`).join(' ');
    write(`${time} ${level.toUpperCase().padEnd(5)} ${opts.prefix ?? ''}${msg}${kv ? ' ' + kv : ''}`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
