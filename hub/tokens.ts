/**
 * Bearer tokens: people's tokens for the API (admin, deployer, viewer; the
 * label is the person's name), agent join tokens, metrics tokens for
 * scrapers, and per-node credentials handed out at join. A token is
 * `muster_<id>_<secret>`; only the SHA-256 of the secret is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store, TokenRecord, TokenRole, TokenScope } from './store.ts';
import { tokenNotFound } from './errors.ts';

export interface TokenServiceDeps {
  store: Pick<Store, 'insertToken' | 'getToken' | 'listTokens' | 'revokeToken' | 'revokeNodeTokens' | 'touchToken' | 'useToken'>;
  now: () => number;
}

export interface CreateTokenOptions {
  label?: string;
  /** Lifetime; 0: never expires; absent: the role's default (join tokens 1 h, the others never). */
  ttlMs?: number;
  nodeId?: number;
  /** Joins the token allows (join tokens); absent: no limit. */
  maxUses?: number;
  /** The one node name a join token may take over (`muster token create --replace NAME`). */
  replaceNode?: string;
  /** What a deployer may touch (`--services`, `--nodes`). */
  scope?: TokenScope;
}

/** Why a presented token was refused; the reasons past `unknown` are told only to a caller who holds the secret. */
export type TokenRefusal = 'unknown' | 'expired' | 'revoked' | 'used up';

/** The verdict on a presented token. */
export type TokenCheck = { ok: true; record: TokenRecord } | { ok: false; reason: TokenRefusal; record?: TokenRecord };

/** Issues, checks and revokes tokens, and tells listeners about revocations (so links can be cut at once). */
export interface TokenService {
  create(role: TokenRole, opts?: CreateTokenOptions): { token: string; record: TokenRecord };
  /** The live record for a presented token, or undefined when unknown, wrong, expired, revoked or used up. */
  verify(token: string): TokenRecord | undefined;
  /** As verify, but says why a token is refused (a join is told that its token expired or is used up). */
  check(token: string): TokenCheck;
  /** Counts one join made with a join token; false when it had no use left. */
  consume(id: string): boolean;
  list(): TokenRecord[];
  /** Revokes by id; throws MUSTER_ERR_TOKEN_NOT_FOUND for an unknown id. */
  revoke(id: string): TokenRecord;
  /** Revokes every credential of a node (replaced or removed); listeners hear of each, so its link is cut at once. */
  revokeNode(nodeId: number): TokenRecord[];
  onRevoke(listener: (record: TokenRecord) => void): () => void;
}

/**
 * A join token lives an hour unless its maker says otherwise (never must be
 * asked for, as ttl 0): a token pasted into a chat or a shell history goes
 * stale on its own. Admin, metrics and node tokens are revoked, not timed.
 */
export const DEFAULT_TTL_MS: Readonly<Partial<Record<TokenRole, number>>> = { agent: 3_600_000 };

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

  function check(token: string): TokenCheck {
    const m = TOKEN_RE.exec(token);
    if (!m) return { ok: false, reason: 'unknown' };
    const record = store.getToken(m[1]!);
    if (!record) return { ok: false, reason: 'unknown' };
    const a = Buffer.from(record.hash, 'hex');
    const b = Buffer.from(hashSecret(m[2]!), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'unknown' };
    if (record.revokedAt !== null) return { ok: false, reason: 'revoked', record };
    if (record.expiresAt !== null && record.expiresAt <= now()) return { ok: false, reason: 'expired', record };
    if (record.maxUses !== null && record.uses >= record.maxUses) return { ok: false, reason: 'used up', record };
    return { ok: true, record };
  }
  return {
    create(role, opts = {}) {
      const id = randomBytes(8).toString('hex').slice(0, 12);
      const secret = randomBytes(32).toString('base64url');
      const t = now();
      const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS[role] ?? 0;
      const record: TokenRecord = {
        id, role, hash: hashSecret(secret), nodeId: opts.nodeId ?? null, label: opts.label ?? '',
        createdAt: t, expiresAt: ttlMs > 0 ? t + ttlMs : null, revokedAt: null, lastUsedAt: null,
        maxUses: opts.maxUses ?? null, uses: 0, replaceNode: opts.replaceNode ?? null, scope: opts.scope ?? null,
      };
      store.insertToken(record);
      return { token: `muster_${id}_${secret}`, record };
    },
    check,
    verify(token) {
      const c = check(token);
      return c.ok ? c.record : undefined;
    },
    consume: (id) => store.useToken(id, now()),
    list: () => store.listTokens(),
    revoke(id) {
      const record = store.revokeToken(id, now());
      if (!record) throw tokenNotFound(`no token with id '${id}'`);
      for (const l of listeners) l(record);
      return record;
    },
    revokeNode(nodeId) {
      const revoked = store.revokeNodeTokens(nodeId, now());
      for (const record of revoked) for (const l of listeners) l(record);
      return revoked;
    },
    onRevoke(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
