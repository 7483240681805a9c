/**
 * TLS for the hub, on by default, as k3s does it: at first start the hub
 * makes its own certificate authority and a server certificate it signs,
 * kept in `<data>/tls/` (`ca.crt`, `ca.key`, `server.crt`, `server.key`;
 * keys 0600). Agents pin the CA by the SHA-256 of its DER (`--ca-hash
 * sha256:…`, printed with every join command), so nothing on the network
 * can stand in for the hub. The server certificate names every address and
 * host name of this machine plus `--tls-san` ones, and is made again at
 * start when one is missing or it is within 30 days of expiry; the CA stays.
 *
 * With `--tls-cert/--tls-key` the hub serves your certificate instead and
 * loads it again when the files change (a renewal by certbot, say).
 */
import { createHash, createPrivateKey, X509Certificate as NodeX509 } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { ipBytes, makeCertificateAuthority, makeServerCertificate } from './x509.ts';

/** How the hub was told to do TLS. */
export interface TlsConfig {
  /** `--no-tls`: plain HTTP (warned about at every start). */
  disabled?: boolean;
  /** Your own certificate (PEM, the chain after it) and key: `--tls-cert`, `--tls-key`. */
  certFile?: string;
  keyFile?: string;
  /** More names or addresses the server certificate must carry: `--tls-san`. */
  sans?: string[];
}

/** The hub's TLS material for the server, and what agents pin. */
export interface HubTls {
  key: Buffer;
  /** The server certificate followed by the CA's, so a client that only has the pin still sees the chain. */
  cert: Buffer;
  /** The CA's certificate (PEM), served at /cacerts; undefined with your own certificate. */
  caPem: string | undefined;
  /** `sha256:<hex>` of the CA's DER, or of the top of your own chain. */
  caHash: string;
  /** Where ca.crt is, for the CLI and Prometheus (`tls_config.ca_file`); undefined with your own certificate. */
  caFile: string | undefined;
  /** The names and addresses the server certificate is valid for. */
  sans: string[];
  /** Calls `onChange` with new material when your own certificate's files change; returns the stop function. */
  watch(onChange: (material: { key: Buffer; cert: Buffer }) => void, onError: (err: Error) => void): () => void;
}

/** SHA-256 pin of a certificate (PEM), as `openssl x509 -outform der | sha256sum` gives it. */
export function certificatePin(pem: string): string {
  return `sha256:${createHash('sha256').update(new NodeX509(pem).raw).digest('hex')}`;
}

const DAY = 86_400_000;
const CA_YEARS = 10;
const SERVER_DAYS = 397;
const RENEW_BEFORE_DAYS = 30;

/** This machine's host names and addresses, and loopback: what agents may dial. */
export function defaultSans(extra: readonly string[] = []): string[] {
  const out = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const host = hostname();
  if (host) {
    out.add(host);
    out.add(host.split('.')[0]!);
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.address.startsWith('fe80:')) out.add(a.address);
  }
  for (const s of extra) out.add(s);
  return [...out].filter((s) => s.length > 0);
}

const writeKey = (file: string, pem: string) => {
  writeFileSync(`${file}.tmp`, pem, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
};
const writeCert = (file: string, pem: string) => {
  writeFileSync(`${file}.tmp`, pem, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
};

/** Whether a server certificate can be kept: signed by this CA, valid for 30 more days, naming every SAN. */
function serverUsable(certPem: string, caPem: string, sans: string[]): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (!cert.checkIssued(new NodeX509(caPem)) || !cert.verify(new NodeX509(caPem).publicKey)) return false;
    if (Date.parse(cert.validTo) - Date.now() < RENEW_BEFORE_DAYS * DAY) return false;
    // OpenSSL prints IPv6 addresses in full (FD00:0:0:…): compare addresses by their bytes, names as they are.
    const key = (s: string) => (isIP(s) ? `ip:${ipBytes(s).toString('hex')}` : `dns:${s.toLowerCase()}`);
    const names = new Set((cert.subjectAltName ?? '').split(', ').map((e) => key(e.replace(/^(DNS|IP Address):/, ''))));
    return sans.every((s) => names.has(key(s)));
  } catch {
    return false;
  }
}

/**
 * Loads or makes the hub's TLS material; undefined with `disabled`.
 * Throws with a clear message for unreadable or mismatched files.
 */
export function ensureHubTls(dataDir: string, config: TlsConfig): HubTls | undefined {
  if (config.disabled) return undefined;
  if (config.certFile || config.keyFile) return ownCertificate(config);
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  const now = Date.now();
  if (!existsSync(f.caCert) || !existsSync(f.caKey)) {
    const ca = makeCertificateAuthority(`muster hub CA (${hostname() || 'hub'})`, new Date(now - DAY), new Date(now + CA_YEARS * 365 * DAY));
    writeKey(f.caKey, ca.keyPem);
    writeCert(f.caCert, ca.certPem);
  }
  const caPem = readFileSync(f.caCert, 'utf8');
  const sans = defaultSans(config.sans ?? []);
  if (!existsSync(f.cert) || !existsSync(f.key) || !serverUsable(readFileSync(f.cert, 'utf8'), caPem, sans)) {
    const caCert = new NodeX509(caPem);
    const caKey = createPrivateKey(readFileSync(f.caKey));
    const server = makeServerCertificate(
      { subject: caCert.subject.replace(/^CN=/, ''), publicKey: caCert.publicKey, privateKey: caKey },
      sans, new Date(now - DAY), new Date(now + SERVER_DAYS * DAY),
    );
    writeKey(f.key, server.keyPem);
    writeCert(f.cert, server.certPem);
  }
  return {
    key: readFileSync(f.key),
    cert: Buffer.concat([readFileSync(f.cert), Buffer.from(caPem)]),
    caPem,
    caHash: certificatePin(caPem),
    caFile: f.caCert,
    sans,
    watch: () => () => undefined,
  };
}

/** Your own certificate: checked now (key matches, not expired), watched for renewals. */
function ownCertificate(config: TlsConfig): HubTls {
  const { certFile, keyFile } = config;
  if (!certFile || !keyFile) throw new Error('--tls-cert and --tls-key go together: give both, or neither for the hub\'s own CA');
  const load = () => {
    const cert = readFileSync(certFile);
    const key = readFileSync(keyFile);
    const pems = cert.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (pems.length === 0) throw new Error(`${certFile} holds no PEM certificate`);
    const leaf = new NodeX509(pems[0]!);
    if (Date.parse(leaf.validTo) < Date.now()) throw new Error(`the certificate in ${certFile} expired on ${leaf.validTo}`);
    return { cert, key, pems, leaf };
  };
  const first = load();
  const top = first.pems[first.pems.length - 1]!;
  return {
    key: first.key,
    cert: first.cert,
    caPem: undefined,
    caHash: certificatePin(top),
    caFile: undefined,
    sans: (first.leaf.subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '')).filter(Boolean),
    watch(onChange, onError) {
      let last = `${statSync(certFile).mtimeMs}|${statSync(keyFile).mtimeMs}`;
      const check = () => {
        try {
          const now = `${statSync(certFile).mtimeMs}|${statSync(keyFile).mtimeMs}`;
          if (now === last) return;
          last = now;
          const next = load();
          onChange({ key: next.key, cert: next.cert });
        } catch (err) {
          onError(err as Error);
        }
      };
      watchFile(certFile, { interval: 5_000 }, check);
      watchFile(keyFile, { interval: 5_000 }, check);
      return () => {
        unwatchFile(certFile, check);
        unwatchFile(keyFile, check);
      };
    },
  };
}
