/**
 * Bearer tokens: admin tokens for the API, agent join tokens, and per-node
 * credentials handed out at join. A token is `muster_<id>_<secret>`; only the
 * SHA-256 of the secret is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord, TokenRole } from './store.ts';
import { tokenNotFound } from './errors.ts';

export interface TokenServiceDeps {
  store: Pick<Store, 'insertToken' | 'getToken' | 'listTokens' | 'revokeToken' | 'revokeNodeTokens' | 'touchToken'>;
  now: () => number;
}

export interface CreateTokenOptions {
  label?: string;
  ttlMs?: number;
  nodeId?: number;
}

/** Issues, checks and revokes tokens, and tells listeners about revocations (so links can be cut at once). */
export interface TokenService {
  create(role: TokenRole, opts?: CreateTokenOptions): { token: string; record: TokenRecord };
  /** The live record for a presented token, or undefined when unknown, wrong, expired or revoked. */
  verify(token: string): TokenRecord | undefined;
  list(): TokenRecord[];
  /** Revokes by id; throws MUSTER_ERR_TOKEN_NOT_FOUND for an unknown id. */
  revoke(id: string): TokenRecord;
  /** Revokes every credential of a node (for a node that re-joined). */
  revokeNode(nodeId: number): void;
  onRevoke(listener: (record: TokenRecord) => void): () => void;
}

const TOKEN_RE = /^muster_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** The token id of a presented token string, if it has the right shape. */
export function tokenId(token: string): string | undefined {
  return TOKEN_RE.exec(token)?.[1];
}

/** Creates the token service over a store and a clock. */
export function createTokenService(deps: TokenServiceDeps): TokenService {
  const { store, now } = deps;
  const listeners = new Set<(r: TokenRecord) => void>();
  return {
    create(role, opts = {}) {
      const id = randomBytes(8).toString('hex').slice(0, 12);
      const secret = randomBytes(32).toString('base64url');
      const t = now();
      const record: TokenRecord = {
        id, role, hash: hashSecret(secret), nodeId: opts.nodeId ?? null, label: opts.label ?? '',
        createdAt: t, expiresAt: opts.ttlMs ? t + opts.ttlMs : null, revokedAt: null, lastUsedAt: null,
      };
      store.insertToken(record);
      return { token: `muster_${id}_${secret}`, record };
    },
    verify(token) {
      const m = TOKEN_RE.exec(token);
      if (!m) return undefined;
      const record = store.getToken(m[1]!);
      if (!record) return undefined;
      const a = Buffer.from(record.hash, 'hex');
      const b = Buffer.from(hashSecret(m[2]!), 'hex');
      if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
      const t = now();
      if (record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= t)) return undefined;
      return record;
    },
    list: () => store.listTokens(),
    revoke(id) {
      const record = store.revokeToken(id, now());
      if (!record) throw tokenNotFound(`no token with id '${id}'`);
      for (const l of listeners) l(record);
      return record;
    },
    revokeNode(nodeId) {
      store.revokeNodeTokens(nodeId, now());
    },
    onRevoke(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
