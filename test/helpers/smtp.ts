/**
 * A real SMTP server on loopback (the smtp-server package) for the alert
 * tests: it keeps every message it accepts, can demand a password, and can
 * refuse the next messages with 451 to test retries.
 */
import { SMTPServer } from 'smtp-server';

/** One accepted message. */
export interface ReceivedMail {
  subject: string;
  /** The raw message, headers and body. */
  text: string;
  /** The envelope's recipients, comma-separated. */
  to: string;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** Answers the next `n` messages with 451 (try later). */
  refuseNext(n: number): void;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 and a free port; plain SMTP (no STARTTLS). */
export async function startTestSmtp(opts: { password?: string } = {}): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  let refuse = 0;
  const server = new SMTPServer({
    authOptional: opts.password === undefined,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
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
        received.push({ subject, text: raw, to: session.envelope.rcptTo.map((r) => r.address).join(',') });
        cb();
      });
    },
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    port: (server.server.address() as { port: number }).port,
    received,
    refuseNext: (n) => { refuse = n; },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}
