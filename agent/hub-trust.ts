/**
 * How the agent knows it talks to its hub and not to whoever answers on the
 * hub's address. The hub makes its own certificate authority; the join
 * command carries the SHA-256 of that CA's certificate (`--ca-hash
 * sha256:…`, k3s style). At the first connect the agent fetches the CA from
 * the hub's /cacerts (unverified), accepts it only if it has that hash, and
 * keeps it in its state directory: from then on every connection is
 * verified against it, host name included, like any TLS client. `--ca-file`
 * gives the CA directly. Without either, a https:// hub must have a
 * certificate the system trusts (a public one).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { isIP } from 'node:net';

/** What the agent was told to trust. */
export interface TrustOptions {
  /** The hub's URL (http(s):// or ws(s)://). */
  hub: string;
  /** `sha256:<64 hex>`: the pin of the hub's CA certificate. */
  caHash?: string;
  /** A PEM file with the hub's CA certificate. */
  caFile?: string;
  /** The state directory, where the CA is kept once pinned (`ca.crt`). */
  stateDir: string;
}

/** How to connect: plain, with the system's CAs, or with the pinned CA (PEM). */
export type HubTrust = { tls: false } | { tls: true; ca: string | undefined };

/** The hub is not the one pinned, or the pin is not usable: retrying cannot help. */
export class TrustError extends Error {
  readonly code: string;
  constructor(code: 'MUSTER_ERR_CA_MISMATCH' | 'MUSTER_ERR_CA_INVALID', message: string) {
    super(message);
    this.code = code;
  }
}

/** The pin format: `sha256:` and 64 hex digits. */
export const CA_HASH_RE = /^sha256:[0-9a-f]{64}$/i;

/** SHA-256 pin of a PEM certificate, as `openssl x509 -outform der | sha256sum` gives it. */
export function pinOf(pem: string): string {
  return `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;
}

/** The first certificate of a PEM text, or undefined. */
function firstCert(text: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
}

/** GET https://hub/cacerts without verifying (the pin does that), at most 64 KiB in 10 s. */
function fetchCa(base: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 443, path: '/cacerts', method: 'GET',
      rejectUnauthorized: false, timeout: 10_000,
      // SNI carries host names only (RFC 6066).
      ...(isIP(base.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: base.hostname }),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 65_536) req.destroy(new Error('the hub\'s /cacerts answer is too large'));
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`the hub answered ${res.statusCode} for /cacerts`))));
    });
    req.on('timeout', () => req.destroy(new Error('no answer from the hub for /cacerts within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Resolves what to trust for the next connection. Network failures reject
 * with ordinary errors (try again later); a CA that does not match the pin
 * rejects with a TrustError (give up, loudly).
 */
export async function resolveHubTrust(o: TrustOptions): Promise<HubTrust> {
  const url = new URL(o.hub);
  if (url.protocol === 'http:' || url.protocol === 'ws:') return { tls: false };
  const kept = join(o.stateDir, 'ca.crt');
  const check = (pem: string, where: string) => {
    const pin = pinOf(pem);
    if (o.caHash && pin.toLowerCase() !== o.caHash.toLowerCase()) {
      throw new TrustError('MUSTER_ERR_CA_MISMATCH', `the hub's CA from ${where} has hash ${pin}, not the pinned ${o.caHash}: `
        + 'this is not the hub the join command was made for (or it made a new CA); refusing to connect');
    }
    return pem;
  };
  if (o.caFile) {
    const pem = firstCert(readFileSync(o.caFile, 'utf8'));
    if (!pem) throw new TrustError('MUSTER_ERR_CA_INVALID', `${o.caFile} holds no PEM certificate`);
    return { tls: true, ca: check(pem, o.caFile) };
  }
  let saved: string | undefined;
  try {
    saved = firstCert(readFileSync(kept, 'utf8'));
  } catch {
    saved = undefined;
  }
  if (saved) return { tls: true, ca: check(saved, kept) };
  if (!o.caHash) return { tls: true, ca: undefined };
  const pem = firstCert(await fetchCa(url));
  if (!pem) throw new TrustError('MUSTER_ERR_CA_INVALID', 'the hub\'s /cacerts holds no PEM certificate');
  check(pem, `${url.origin}/cacerts`);
  writeFileSync(kept, `${pem}\n`, { mode: 0o644 });
  return { tls: true, ca: pem };
}

/** TLS verification failures: the hub is not who it says, or its certificate does not fit its address. */
const VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'UNABLE_TO_GET_ISSUER_CERT',
]);

/** A sentence for a TLS verification failure, or undefined for other errors. */
export function explainTlsFailure(err: NodeJS.ErrnoException, hub: string, pinned: boolean): string | undefined {
  if (!err.code || !VERIFY_CODES.has(err.code)) return undefined;
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the hub's certificate is not valid for the address ${new URL(hub).hostname} (${err.message}); use a name or address it has, or start the hub with --tls-san ${new URL(hub).hostname}`;
  }
  return pinned
    ? `the hub's certificate is not signed by the pinned CA (${err.code}): refusing to connect`
    : `the hub's certificate is not trusted (${err.code}): pass --ca-hash sha256:... from the join command (muster token create prints it), or --ca-file`;
}
