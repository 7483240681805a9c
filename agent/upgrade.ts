/**
 * The agent's side of an upgrade pushed by the hub. Only an agent installed
 * as a service (its launcher sets MUSTER_AGENT_HOME to the program's
 * directory) upgrades itself; one started by hand is told to be upgraded by
 * hand. The bundle is fetched from the hub it is connected to, over the same
 * pinned TLS, checked against the SHA-256 the hub sent, written beside the
 * running one and swapped in with a rename (the old one kept as .prev), and
 * `upgrade.pending` records it. The agent then exits; systemd starts the new
 * one, which deletes `upgrade.pending` once welcomed by the hub, and exits
 * after a minute if it is not: the launcher then puts .prev back.
 */
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { UpgradeRequest, UpgradeResult } from '../protocol/index.ts';
import type { HubTrust } from './hub-trust.ts';

/** The files of an installed agent, in MUSTER_AGENT_HOME. */
export const BUNDLE_FILE = 'muster-agent.js';
export const PREVIOUS_FILE = 'muster-agent.js.prev';
export const PENDING_FILE = 'upgrade.pending';

/** A new version has this long to be welcomed by the hub before it gives up (and the launcher rolls back). */
export const CONFIRM_WITHIN_MS = 60_000;

export interface UpgraderDeps {
  /** MUSTER_AGENT_HOME: where the launcher runs the bundle from; undefined for an agent started by hand. */
  home: string | undefined;
  hub: string;
  trust: () => Promise<HubTrust>;
  version: string;
  now: () => number;
  /** Fetches a path of the hub (default: HTTPS with the pinned CA); injectable for tests. */
  fetchBundle?: (path: string, trust: HubTrust) => Promise<Buffer>;
}

export interface Upgrader {
  /** Runs one request; resolves with the answer for the hub. `restarting` means: exit now, systemd starts the new one. */
  handle(req: UpgradeRequest): Promise<UpgradeResult>;
  /** True when this process is a new version not yet confirmed (it must reach the hub within CONFIRM_WITHIN_MS). */
  unconfirmed(): boolean;
  /** The hub welcomed this version: the upgrade stays. */
  confirm(): string | undefined;
}

const MAX_BUNDLE = 16 * 1024 * 1024;

/** GET hub+path with the trust of the link, at most 16 MiB. */
function defaultFetch(hub: string, path: string, trust: HubTrust): Promise<Buffer> {
  const url = new URL(path, hub.replace(/^ws/, 'http'));
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 30_000, ...(trust.tls && trust.ca ? { ca: trust.ca } : {}) }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`the hub answered ${res.statusCode} for ${path}`)); return; }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_BUNDLE) req.destroy(new Error('the bundle is larger than 16 MiB'));
        else chunks.push(d);
      });
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the download took longer than 30 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Creates the upgrader for this process. */
export function createUpgrader(deps: UpgraderDeps): Upgrader {
  const home = deps.home;
  const fetchBundle = deps.fetchBundle ?? ((path: string, trust: HubTrust) => defaultFetch(deps.hub, path, trust));
  const answer = (req: UpgradeRequest, outcome: UpgradeResult['outcome'], message: string): UpgradeResult =>
    ({ type: 'upgradeResult', id: req.id, outcome, message: message.slice(0, 1024), version: deps.version });
  return {
    async handle(req) {
      if (!home) return answer(req, 'refused', 'this agent was not installed as a service (install.sh): upgrade it by hand, or install it');
      if (deps.now() > req.deadline) return answer(req, 'refused', 'the request arrived after its deadline');
      const current = join(home, BUNDLE_FILE);
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      if (existsSync(current) && sha(readFileSync(current)) === req.sha256) return answer(req, 'current', `already runs this bundle (${deps.version})`);
      let bytes: Buffer;
      try {
        bytes = await fetchBundle(req.path, await deps.trust());
      } catch (err) {
        return answer(req, 'failed', `could not download the bundle: ${(err as Error).message}`);
      }
      if (sha(bytes) !== req.sha256) return answer(req, 'failed', `the downloaded bundle's SHA-256 is ${sha(bytes)}, not the ${req.sha256} the hub announced; nothing was changed`);
      try {
        const next = join(home, `${BUNDLE_FILE}.new`);
        const fd = openSync(next, 'w', 0o755);
        writeSync(fd, bytes);
        fsyncSync(fd);
        closeSync(fd);
        if (existsSync(current)) copyFileSync(current, join(home, PREVIOUS_FILE));
        writeFileSync(join(home, PENDING_FILE), JSON.stringify({ id: req.id, from: deps.version, to: req.version, at: deps.now() }) + '\n');
        renameSync(next, current);
      } catch (err) {
        return answer(req, 'failed', `could not put the bundle in place in ${home}: ${(err as Error).message}`);
      }
      return answer(req, 'restarting', `installed ${req.version}; restarting into it`);
    },
    unconfirmed: () => home !== undefined && existsSync(join(home, PENDING_FILE)),
    confirm() {
      if (!home || !existsSync(join(home, PENDING_FILE))) return undefined;
      let to: string | undefined;
      try {
        to = (JSON.parse(readFileSync(join(home, PENDING_FILE), 'utf8')) as { to?: string }).to;
      } catch {
        to = undefined;
      }
      rmSync(join(home, PENDING_FILE), { force: true });
      return to ?? deps.version;
    },
  };
}
