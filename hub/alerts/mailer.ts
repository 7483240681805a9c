/**
 * Alert email over SMTP with nodemailer: smtp://user@host:587 upgrades with
 * STARTTLS, smtps:// is TLS from the start. With credentials STARTTLS is
 * required: a server that does not offer it (or a man in the middle that
 * strips it) gets no AUTH, and the send fails with MUSTER_ERR_SMTP_TLS_REQUIRED;
 * refusing is better than sending the password in clear. The password comes
 * from the config (MUSTER_SMTP_PASSWORD or a 0600 file) and is never logged.
 */
import nodemailer from 'nodemailer';
import { smtpTlsRequired } from '../errors.ts';
import type { SmtpConfig } from './config.ts';
import type { AlertEmail, Mailer } from './engine.ts';

/** Creates a mailer for the configured server; nothing connects until the first send. */
export function createSmtpMailer(smtp: SmtpConfig, opts: { timeoutMs?: number } = {}): Mailer {
  const u = new URL(smtp.url);
  const secure = u.protocol === 'smtps:';
  const timeout = opts.timeoutMs ?? 20_000;
  const auth = u.username !== '';
  const transport = nodemailer.createTransport({
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    ...(auth ? { auth: { user: decodeURIComponent(u.username), pass: smtp.password ?? '' } } : {}),
    // Credentials never travel in clear: STARTTLS or nothing. Without them, STARTTLS is used when offered.
    ...(auth && !secure ? { requireTLS: true } : {}),
    connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout,
    // A lab server with its own CA is common: tls_verify=false accepts it (still encrypted).
    tls: { rejectUnauthorized: u.searchParams.get('tls_verify') !== 'false' },
    logger: false,
  });
  return {
    async send(mail: AlertEmail, to?: string[]) {
      try {
        await transport.sendMail({ from: smtp.from, to: to?.length ? to : smtp.to, subject: mail.subject, text: mail.text, html: mail.html });
      } catch (err) {
        const e = err as { code?: string; command?: string };
        if (auth && !secure && e.code === 'ETLS' && e.command === 'STARTTLS') {
          throw smtpTlsRequired(`${u.host} does not offer STARTTLS; the password is not sent in clear (use a server with STARTTLS, or smtps://)`, err);
        }
        throw err;
      }
    },
  };
}
