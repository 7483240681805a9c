/**
 * Just enough X.509 to make the hub's own certificate authority and its
 * server certificate: DER encoding of the two certificate shapes the hub
 * needs, signed with ECDSA P-256 by node:crypto. Everything else (parsing,
 * verifying, the TLS itself) is OpenSSL's, through node:crypto and node:tls.
 * A library would do (@peculiar/x509 needs a global Reflect polyfill; pkijs
 * brings its own hashing): the encoding of these fields is short, fixed by
 * RFC 5280, and checked by OpenSSL in the tests.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER: tag, length, value ------------------------------------------------

function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const set = (...parts: Buffer[]) => der(0x31, ...parts);
const octets = (b: Buffer) => der(0x04, b);
const bitString = (b: Buffer) => der(0x03, Buffer.from([0]), b);
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, inner: Buffer) => der(0xa0 + n, inner);

/** A non-negative INTEGER from big-endian bytes (a leading 0 where the top bit is set). */
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const n of rest) {
    const stack = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) stack.unshift((v & 0x7f) | 0x80);
    out.push(...stack);
  }
  return der(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2), 'ascii')) : der(0x18, Buffer.from(iso, 'ascii'));
}

/** A Name with one common name. */
const name = (commonName: string) => seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))));

const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** The bits of the public key itself, for key identifiers (RFC 5280 4.2.1.2, method 1). */
function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // A P-256 SubjectPublicKeyInfo ends with the key: the 65-byte uncompressed point.
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

/** An IP address as the 4 or 16 bytes of a SAN iPAddress. */
export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail = ''] = ip.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(groups.flatMap((g) => { const v = parseInt(g || '0', 16); return [v >> 8, v & 0xff]; }));
}

// --- Certificates -------------------------------------------------------------

/** A key pair and a certificate, as PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

interface CertificateSpec {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function certificate(spec: CertificateSpec): string {
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([0x40]), randomBytes(15)])),
    ECDSA_SHA256,
    name(spec.issuer),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...spec.extensions)),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  const cert = seq(tbs, ECDSA_SHA256, bitString(signature));
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

const ecKeys = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const pkcs8 = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A certificate authority that may sign end-entity certificates only (path length 0). */
export function makeCertificateAuthority(commonName: string, notBefore: Date, notAfter: Date): PemPair {
  const { publicKey, privateKey } = ecKeys();
  const certPem = certificate({
    subject: commonName, issuer: commonName, publicKey, signingKey: privateKey, notBefore, notAfter,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true), integer(Buffer.from([0])))),
      // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000_0110, one unused bit.
      extension('2.5.29.15', true, der(0x03, Buffer.from([1, 0x06]))),
      extension('2.5.29.14', false, octets(keyId(publicKey))),
    ],
  });
  return { certPem, keyPem: pkcs8(privateKey) };
}

/** A TLS server certificate for `sans` (host names and IP addresses), signed by the CA. */
export function makeServerCertificate(ca: { subject: string; publicKey: KeyObject; privateKey: KeyObject }, sans: readonly string[], notBefore: Date, notAfter: Date): PemPair {
  const { publicKey, privateKey } = ecKeys();
  const names = sans.map((s) => (isIP(s) ? der(0x87, ipBytes(s)) : der(0x82, Buffer.from(s, 'ascii'))));
  const certPem = certificate({
    subject: sans.find((s) => !isIP(s) && s !== 'localhost') ?? 'muster-hub', issuer: ca.subject, publicKey, signingKey: ca.privateKey, notBefore, notAfter,
    extensions: [
      extension('2.5.29.19', true, seq()),
      // digitalSignature (bit 0): 0b1000_0000, seven unused bits.
      extension('2.5.29.15', true, der(0x03, Buffer.from([7, 0x80]))),
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
      extension('2.5.29.17', false, seq(...names)),
      extension('2.5.29.35', false, seq(der(0x80, keyId(ca.publicKey)))),
    ],
  });
  return { certPem, keyPem: pkcs8(privateKey) };
}
