/**
 * Where the CLI finds its hub and token: flags, then MUSTER_HUB / MUSTER_TOKEN,
 * then the client config that `muster up` leaves behind (mode 0600).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ClientConfig {
  hub: string;
  token: string;
  /** The hub's CA certificate (PEM file) to verify its HTTPS with; absent, the system's CAs. */
  caFile?: string;
}

/** Path of the client config: $MUSTER_CONFIG, else $XDG_CONFIG_HOME/muster/client.json, else ~/.config/muster/client.json. */
export function clientConfigPath(env: Record<string, string | undefined>): string {
  if (env.MUSTER_CONFIG) return env.MUSTER_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'muster', 'client.json');
}

/** Reads the client config, or undefined when there is none or it is unreadable. */
export function readClientConfig(env: Record<string, string | undefined>): Partial<ClientConfig> | undefined {
  try {
    const c = JSON.parse(readFileSync(clientConfigPath(env), 'utf8')) as Partial<ClientConfig>;
    return typeof c === 'object' && c ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the client config with mode 0600 (it holds an admin token). */
export function writeClientConfig(env: Record<string, string | undefined>, c: ClientConfig): string {
  const file = clientConfigPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Resolves hub, token and CA in order of precedence; reports what is missing. */
export function resolveClient(flags: { hub?: string; token?: string; 'ca-file'?: string }, env: Record<string, string | undefined>): ClientConfig {
  const file = readClientConfig(env);
  const hub = flags.hub ?? env.MUSTER_HUB ?? file?.hub;
  const token = flags.token ?? env.MUSTER_TOKEN ?? file?.token;
  // The CA goes with the hub it came from: the config file's only when the hub is the config file's too.
  const caFile = flags['ca-file'] ?? env.MUSTER_CA_FILE ?? (hub === file?.hub ? file?.caFile : undefined);
  const missing: string[] = [];
  if (!hub) missing.push('no hub address: pass --hub URL, set MUSTER_HUB, or run `muster up` on this machine');
  if (!token) missing.push('no admin token: pass --token TOKEN, set MUSTER_TOKEN (the hub writes one to <data>/admin.token)');
  if (missing.length) throw new CliError('MUSTER_ERR_NO_HUB', missing.join('\n'));
  return { hub: hub!.replace(/\/+$/, ''), token: token!, ...(caFile ? { caFile } : {}) };
}

/** An error the CLI prints as one clean message, with an exit code. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  /** The rest of the hub's JSON error body, when the error came from the API (e.g. `suggestions`). */
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, exitCode = 1, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}
