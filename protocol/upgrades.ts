/**
 * Agent upgrades pushed by the hub (protocol 2). The hub sends `upgrade`
 * with the version and SHA-256 of the bundle it serves; an agent installed
 * as a service downloads it over its pinned link, checks the hash, swaps
 * it in and restarts through systemd, and its launcher puts the old one
 * back if the new one has not reached the hub within a minute. The agent
 * answers `upgradeResult` once: refused (not installed as a service, or the
 * deadline passed), failed (download, hash), or restarting.
 */
import { Type, type Static } from '@sinclair/typebox';
import { EpochMs, Str } from './bounds.ts';

/** Hub -> agent: replace yourself with the bundle at `path` on this hub, whose SHA-256 is `sha256`. */
export const UpgradeRequest = Type.Object({
  type: Type.Literal('upgrade'),
  id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
  version: Str(64),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** Path on the hub, e.g. /dl/muster-agent.js: fetched from the hub the agent is connected to, over the same pinned TLS. */
  path: Type.String({ pattern: '^/[A-Za-z0-9/._-]{1,200}$' }),
  deadline: EpochMs(),
});

/** Agent -> hub: what became of an upgrade request. */
export const UpgradeResult = Type.Object({
  type: Type.Literal('upgradeResult'),
  id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
  outcome: Type.Union([Type.Literal('restarting'), Type.Literal('refused'), Type.Literal('failed'), Type.Literal('current')]),
  message: Str(1024),
  /** The version the agent runs now. */
  version: Str(64),
});

export type UpgradeRequest = Static<typeof UpgradeRequest>;
export type UpgradeResult = Static<typeof UpgradeResult>;
