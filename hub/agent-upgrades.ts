/**
 * Upgrades of the fleet's agents from the hub: `muster agents upgrade`
 * sends each chosen online node an `upgrade` request for the bundle this hub
 * serves, and follows what becomes of it: the agent's answer (restarting,
 * refused, failed), then the node coming back with the new version in its
 * facts (done) — or back with the old one, which means its launcher rolled
 * the upgrade back. State is kept in memory: it concerns the last minutes.
 */
import { randomBytes } from 'node:crypto';
import type { UpgradeRequest, UpgradeResult } from '../protocol/index.ts';
import type { NodeRecord } from './store.ts';
import type { AgentBundle } from './agent-bundle.ts';
import type { Logger } from './agent-gateway.ts';

/** Where one node's upgrade stands. */
export type UpgradeState = 'sent' | 'restarting' | 'done' | 'rolled back' | 'refused' | 'failed' | 'current' | 'offline';

export interface NodeUpgrade {
  node: string;
  id: string;
  from: string | null;
  to: string;
  state: UpgradeState;
  message: string;
  at: number;
}

export interface AgentUpgradesDeps {
  nodes: () => NodeRecord[];
  send: (nodeId: number, msg: UpgradeRequest) => boolean;
  bundle: AgentBundle;
  now: () => number;
  log: Logger;
}

export interface AgentUpgrades {
  /** Asks these nodes (by name) to upgrade to the served bundle; returns where each stands. */
  request(names: string[], opts?: { force?: boolean }): NodeUpgrade[];
  /** The agent's answer. */
  result(nodeId: number, msg: UpgradeResult): void;
  /** A node (re)connected and reported its facts: an upgrade in flight ends here. */
  seen(node: NodeRecord): void;
  /** The latest upgrade of every node that had one. */
  list(): NodeUpgrade[];
}

/** An agent gets this long to download, swap and restart before the request is stale. */
const DEADLINE_MS = 5 * 60_000;

/** Creates the upgrade tracker; nothing is sent until request(). */
export function createAgentUpgrades(deps: AgentUpgradesDeps): AgentUpgrades {
  const byNode = new Map<number, NodeUpgrade>();
  const set = (nodeId: number, u: NodeUpgrade) => {
    byNode.set(nodeId, u);
    return u;
  };
  return {
    request(names, opts = {}) {
      const bundle = deps.bundle.info();
      if (!bundle) throw new Error('this hub has no agent bundle to push; run npm run build where the hub runs');
      const t = deps.now();
      const wanted = new Set(names);
      const out: NodeUpgrade[] = [];
      for (const n of deps.nodes()) {
        if (!wanted.has(n.name)) continue;
        const id = randomBytes(6).toString('hex');
        const base = { node: n.name, id, from: n.agentVersion, to: bundle.version, at: t };
        if (!n.online) {
          out.push(set(n.id, { ...base, state: 'offline', message: 'not connected: nothing sent; ask again when it is back' }));
        } else if (n.agentVersion === bundle.version && !opts.force) {
          out.push(set(n.id, { ...base, state: 'current', message: `already runs ${bundle.version}` }));
        } else if (deps.send(n.id, { type: 'upgrade', id, version: bundle.version, sha256: bundle.sha256, path: '/dl/muster-agent.js', deadline: t + DEADLINE_MS })) {
          deps.log.info({ node: n.name, from: n.agentVersion, to: bundle.version }, 'agent upgrade sent');
          out.push(set(n.id, { ...base, state: 'sent', message: 'sent; waiting for the agent' }));
        } else {
          out.push(set(n.id, { ...base, state: 'offline', message: 'its link closed as the request was sent' }));
        }
      }
      return out;
    },
    result(nodeId, msg) {
      const u = byNode.get(nodeId);
      if (!u || u.id !== msg.id) return;
      u.state = msg.outcome === 'restarting' ? 'restarting' : msg.outcome;
      u.message = msg.message;
      u.at = deps.now();
      deps.log.info({ node: u.node, outcome: msg.outcome, message: msg.message }, 'agent upgrade answer');
    },
    seen(node) {
      const u = byNode.get(node.id);
      if (!u || (u.state !== 'restarting' && u.state !== 'sent')) return;
      if (node.agentVersion === u.to) {
        u.state = 'done';
        u.message = `runs ${u.to}`;
      } else if (u.state === 'restarting') {
        // Back, but with the old version: its launcher put the old bundle back.
        u.state = 'rolled back';
        u.message = `came back with ${node.agentVersion ?? 'an unknown version'}: the new one did not reach the hub in time`;
      } else {
        return;
      }
      u.at = deps.now();
      deps.log.info({ node: u.node, state: u.state }, 'agent upgrade ended');
    },
    list: () => [...byNode.values()].map((u) => ({ ...u })),
  };
}
