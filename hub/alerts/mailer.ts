/**
 * Alert email over SMTP with nodemailer: smtp://user@host:587 upgrades with
 * STARTTLS when the server offers it, smtps:// is TLS from the start. The
 * password comes from the config (MUSTER_SMTP_PASSWORD or a 0600 file) and
 * is never logged.
 */
import nodemailer from 'nodemailer';
import type { SmtpConfig } from './config.ts';
import type { AlertEmail, Mailer } from './engine.ts';

/** Creates a mailer for the configured server; nothing connects until the first send. */
export function createSmtpMailer(smtp: SmtpConfig, opts: { timeoutMs?: number } = {}): Mailer {
  const u = new URL(smtp.url);
  const secure = u.protocol === 'smtps:';
  const timeout = opts.timeoutMs ?? 20_000;
  const transport = nodemailer.createTransport({
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: smtp.password ?? '' } } : {}),
    connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout,
    // Plain smtp:// still upgrades when the server offers STARTTLS; a lab server with its own CA is common.
    tls: { rejectUnauthorized: u.searchParams.get('tls_verify') !== 'false' },
    logger: false,
  });
  return {
    async send(mail: AlertEmail, to?: string[]) {
      await transport.sendMail({ from: smtp.from, to: to?.length ? to : smtp.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
  };
}
