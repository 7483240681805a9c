/**
 * A real SMTP server on loopback (the smtp-server package) for the alert
 * tests: it keeps every message it accepts, can demand a password, and can
 * refuse the next messages with 451 to test retries. It offers STARTTLS with
 * a certificate made for it (smtp-server's built-in one has expired), since
 * the hub sends no password without TLS; clients connect with tls_verify=false.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { tempDir } from './processes.ts';

/** One accepted message. */
export interface ReceivedMail {
  subject: string;
  /** The raw message, headers and body. */
  text: string;
  /** The envelope's recipients, comma-separated. */
  to: string;
  /** Whether the session had been upgraded to TLS. */
  secure: boolean;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** Every AUTH the server saw (user names), accepted or not. */
  logins: string[];
  /** Answers the next `n` messages with 451 (try later). */
  refuseNext(n: number): void;
  close(): Promise<void>;
}

/** A fresh self-signed certificate for 127.0.0.1, valid for a day, from the openssl command. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = tempDir('smtp-tls');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

/**
 * Starts the server on 127.0.0.1 and a free port. `starttls: false` makes a
 * server that does not offer STARTTLS, to show the hub refuses to log in to it.
 */
export async function startTestSmtp(opts: { password?: string; starttls?: boolean } = {}): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const logins: string[] = [];
  let refuse = 0;
  const tls = opts.starttls === false ? undefined : selfSignedCertificate();
  const server = new SMTPServer({
    authOptional: opts.password === undefined,
    // Without STARTTLS the server takes AUTH in clear: only the client can refuse to send it.
    ...(tls ? tls : { disabledCommands: ['STARTTLS'] }),
    logger: false,
    onAuth(auth, _session, cb) {
      logins.push(auth.username ?? '');
      if (opts.password !== undefined && auth.password !== opts.password) cb(new Error('bad password'));
      else cb(null, { user: auth.username });
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.on('data', (d: Buffer) => { raw += d.toString(); });
      stream.on('end', () => {
        if (refuse > 0) {
          refuse--;
          cb(Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 }));
          return;
        }
        const subject = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(raw)?.[1]?.replace(/\r\n[ \t]/g, ' ') ?? '';
        received.push({ subject, text: raw, to: session.envelope.rcptTo.map((r) => r.address).join(','), secure: session.secure });
        cb();
      });
    },
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    port: (server.server.address() as { port: number }).port,
    received,
    logins,
    refuseNext: (n) => { refuse = n; },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}
