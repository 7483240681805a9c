/**
 * Who may hold a node's name. A join creates a node under a name that no node
 * holds (nor its DNS label); a name that exists is taken over only with an
 * admin's consent: `muster nodes replace NAME` (the next join within a
 * window) or a join token made with `--replace NAME`. Proving a node's
 * credential is not a join at all (the gateway's credential hello).
 * Machine-id is identity, not proof: every local user can read it and cloned
 * SD cards share it, so it is recorded and never checked.
 *
 * Removing a node revokes its credentials (which cuts its link at once),
 * deletes what is stored of it and tells the in-memory caches to forget it.
 */
import type { NodeRecord, Store, TokenRecord } from './store.ts';
import type { TokenService } from './tokens.ts';
import { nameTaken, nodeNotFound, unauthorized } from './errors.ts';

export interface MembershipDeps {
  store: Pick<Store, 'getNodeByName' | 'joinNode' | 'replaceNode' | 'allowReplacement' | 'removeNode'>;
  tokens: Pick<TokenService, 'create' | 'consume' | 'revokeNode'>;
  now: () => number;
}

export interface MembershipOptions {
  /** How long `muster nodes replace` leaves the name open for the next join (default 1 h). */
  replaceWindowMs?: number;
}

/** What a join that was let in gets. */
export interface JoinResult {
  node: NodeRecord;
  /** The node's new credential, for the welcome. */
  credential: string;
  /** Set when the join took an existing node over: the machine-id it had. */
  replaced?: { previousMachineId: string };
}

/** Joins, replacements and removals of nodes. */
export interface Membership {
  /**
   * Lets a join in with a join token that was checked as valid, or throws:
   * MUSTER_ERR_NODE_NAME_TAKEN for a held name or DNS label without consent,
   * MUSTER_ERR_UNAUTHORIZED for a token bound to another name. Counts the
   * token's use only when the join succeeds. On a replacement the old
   * credentials are revoked (their listeners cut the old link) first.
   */
  join(token: TokenRecord, name: string, machineId: string): JoinResult;
  /** Lets the next join under `name` replace the node, within the window; returns until when. */
  allowReplacement(name: string, windowMs?: number): { node: NodeRecord; until: number };
  /** Deletes the node and everything kept of it; resolves once that is on disk and the caches forgot it. */
  remove(name: string): Promise<NodeRecord>;
  /** Called with every removed node, so in-memory state keyed by its id (which SQLite may hand out again) goes too. */
  onRemove(fn: (node: NodeRecord) => void): () => void;
}

const HOUR = 3_600_000;

/** Creates the membership rules over a store and the token service. */
export function createMembership(deps: MembershipDeps, opts: MembershipOptions = {}): Membership {
  const { store, tokens, now } = deps;
  const windowMs = opts.replaceWindowMs ?? HOUR;
  const removeListeners = new Set<(node: NodeRecord) => void>();

  return {
    join(token, name, machineId) {
      if (token.role !== 'agent') throw unauthorized(`a token of role '${token.role}' cannot join a node; use a join token (muster token create --role agent)`);
      if (token.replaceNode !== null && token.replaceNode !== name) {
        throw unauthorized(`this join token may only replace node '${token.replaceNode}', not join '${name}'`);
      }
      const t = now();
      const existing = store.getNodeByName(name);
      let node: NodeRecord;
      let replaced: JoinResult['replaced'];
      if (existing) {
        const allowed = token.replaceNode === name || (existing.replaceUntil !== null && existing.replaceUntil > t);
        if (!allowed) {
          throw nameTaken(`node name '${name}' is taken; if this machine replaces that node, an admin runs 'muster nodes replace ${name}' `
            + `(or makes a join token with --replace ${name}) first`, undefined, { node: name });
        }
        replaced = { previousMachineId: existing.machineId };
        // The old agent loses its credential and its link before the name changes hands.
        tokens.revokeNode(existing.id);
        node = store.replaceNode(existing.id, machineId, t);
      } else {
        node = store.joinNode(name, machineId, t);
      }
      tokens.consume(token.id);
      const credential = tokens.create('node', { nodeId: node.id, label: `node ${node.name}` }).token;
      return { node, credential, ...(replaced ? { replaced } : {}) };
    },
    allowReplacement(name, ms = windowMs) {
      const node = store.getNodeByName(name);
      if (!node) throw nodeNotFound(`no node named '${name}'`);
      const until = now() + ms;
      store.allowReplacement(node.id, until);
      return { node, until };
    },
    async remove(name) {
      const node = store.getNodeByName(name);
      if (!node) throw nodeNotFound(`no node named '${name}'`);
      // Revoked first: the gateway cuts the link now, so nothing the agent still sends is written for a deleted node.
      tokens.revokeNode(node.id);
      await new Promise<void>((resolve, reject) => store.removeNode(node.id, (err) => (err ? reject(err) : resolve())));
      for (const fn of removeListeners) fn(node);
      return node;
    },
    onRemove(fn) {
      removeListeners.add(fn);
      return () => removeListeners.delete(fn);
    },
  };
}
