import nodemailer from 'nodemailer';
import { alertText, type AlertEvent } from '../alert-event.js';

const transports = new Map<string, nodemailer.Transporter>();

/** Sends the alert as a plain-text email through the channel's SMTP server. */
export async function sendEmail(smtp: string, from: string, to: string[], event: AlertEvent): Promise<void> {
  let t = transports.get(smtp);
  if (!t) {
    const u = new URL(smtp);
    t = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 587)),
      secure: u.protocol === 'smtps:',
      auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
      tls: { rejectUnauthorized: u.searchParams.get('tls') !== 'insecure' },
      ignoreTLS: u.searchParams.get('starttls') === 'off',
      connectionTimeout: 10_000,
    });
    transports.set(smtp, t);
  }
  const text = alertText(event);
  await t.sendMail({ from, to, subject: text.slice(0, 120), text: `${text}\n\n${JSON.stringify(event, null, 2)}\n` });
}
