// What a notification says, and how each kind of channel wants it said: one plain-text summary of the event, shaped
// into a DingTalk/WeCom/Feishu robot message, a Slack message, the generic webhook's JSON, or an e-mail.
import crypto from 'node:crypto';
import type { NotifyEvent } from './events.ts';

export const CHANNEL_KINDS = ['dingtalk', 'wecom', 'feishu', 'slack', 'webhook', 'email'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** The event a delivery carries: a job event, or the "Send test" button's message. */
export type DeliveredEvent = NotifyEvent | TestEvent;
export interface TestEvent {
  event: 'test';
  project: string;
  channel: string;
  user: string;
}

/** At most this many failed hosts are named in a message; the job page lists them all. */
const HOSTS_NAMED = 20;

const HEADLINES: Record<NotifyEvent['event'], string> = {
  'approval.requested': 'waits for approval',
  'approval.approved': 'approved',
  'approval.rejected': 'rejected',
  'publish.started': 'publish started',
  'publish.succeeded': 'publish succeeded',
  'publish.failed': 'publish failed',
  'publish.partial': 'publish partly failed',
  rollback: 'rollback finished',
  'process.failed': 'process action failed',
};

export const jobLink = (publicUrl: string, jobId: number) => `${publicUrl}/jobs/${jobId}`;

/** "[Ferry] game: publish failed (r120)" */
export function titleOf(e: DeliveredEvent): string {
  if (e.event === 'test') return `[Ferry] ${e.project}: test message`;
  let what = HEADLINES[e.event];
  if (e.event === 'rollback') what = `rollback ${e.status}`;
  if (e.event === 'process.failed' && e.action) what = `${e.action} ${e.status}`;
  if (e.event.startsWith('approval.')) what = `${e.kind} ${what}`;
  return `[Ferry] ${e.project}: ${what}${e.revision ? ` (r${e.revision})` : ''}`;
}

/** The message's lines after the title: who, what, where it failed, and the link. */
export function linesOf(e: DeliveredEvent, publicUrl: string): string[] {
  if (e.event === 'test') return [`Test message for the notification channel "${e.channel}", sent by ${e.user} from Ferry.`, `Ferry: ${publicUrl}`];
  const lines = [
    `Project: ${e.project}`,
    `Job: #${e.jobId} (${e.kind}${e.action ? ` ${e.action}` : ''}), status ${e.status}`,
  ];
  if (e.revision) lines.push(`Revision: r${e.revision}`);
  lines.push(`By: ${e.user}`);
  if (e.decidedBy) lines.push(`${e.event === 'approval.rejected' ? 'Rejected' : 'Approved'} by: ${e.decidedBy}`);
  lines.push(`Hosts: ${e.hostCount}`);
  const failed = e.failedHosts ?? [];
  if (failed.length) {
    const more = failed.length > HOSTS_NAMED ? ` and ${failed.length - HOSTS_NAMED} more` : '';
    lines.push(`Failed on ${failed.length}: ${failed.slice(0, HOSTS_NAMED).join(', ')}${more}`);
  }
  if (e.reason) lines.push(`${e.event === 'approval.rejected' ? 'Reason' : 'Error'}: ${e.reason.length > 500 ? `${e.reason.slice(0, 500)}…` : e.reason}`);
  lines.push(`Job page: ${jobLink(publicUrl, e.jobId)}`);
  return lines;
}

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface MailMessage {
  subject: string;
  text: string;
}

/** HMAC-SHA256, base64. */
const hmacBase64 = (key: string, data: string) => crypto.createHmac('sha256', key).update(data, 'utf8').digest('base64');

/** DingTalk's signed robot: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret, "<timestamp>\n<secret>")) in the query. */
export function dingtalkSignedUrl(url: string, secret: string, now: number): string {
  const u = new URL(url);
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', hmacBase64(secret, `${now}\n${secret}`));
  return u.toString();
}

/** Feishu's signed robot: `sign` = base64(HMAC-SHA256 keyed with "<timestamp>\n<secret>" over nothing), timestamp in seconds. */
export function feishuSign(secret: string, timestampSec: number): string {
  return hmacBase64(`${timestampSec}\n${secret}`, '');
}

/** The generic webhook's signature header value: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. */
export function webhookSignature(secret: string, timestampSec: number, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(`${timestampSec}.${body}`, 'utf8').digest('hex')}`;
}

/** The HTTP request a robot or webhook channel sends for `e`. */
export function httpRequestFor(kind: Exclude<ChannelKind, 'email'>, url: string, secret: string | null, e: DeliveredEvent, publicUrl: string, now = Date.now()): HttpRequest {
  const title = titleOf(e);
  const lines = linesOf(e, publicUrl);
  const json = (body: unknown, headers: Record<string, string> = {}) => ({ headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const seconds = Math.floor(now / 1000);
  switch (kind) {
    case 'dingtalk':
      return { url: secret ? dingtalkSignedUrl(url, secret, now) : url, ...json({ msgtype: 'markdown', markdown: { title, text: `#### ${title}\n\n${lines.map(markdownLine).join('\n\n')}` } }) };
    case 'wecom':
      return { url, ...json({ msgtype: 'markdown', markdown: { content: `**${title}**\n${lines.map(markdownLine).join('\n')}` } }) };
    case 'feishu': {
      const text = [title, ...lines].join('\n');
      return { url, ...json({ ...(secret ? { timestamp: String(seconds), sign: feishuSign(secret, seconds) } : {}), msg_type: 'text', content: { text } }) };
    }
    case 'slack':
      return { url, ...json({ text: [`*${title}*`, ...lines].join('\n') }) };
    case 'webhook': {
      const body = JSON.stringify({ ...e, title, text: lines.join('\n'), ...('jobId' in e ? { url: jobLink(publicUrl, e.jobId) } : {}), sentAt: new Date(now).toISOString() });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-ferry-event': e.event, 'x-ferry-timestamp': String(seconds) };
      if (secret) headers['x-ferry-signature'] = webhookSignature(secret, seconds, body);
      return { url, headers, body };
    }
  }
}

export function mailFor(e: DeliveredEvent, publicUrl: string): MailMessage {
  return { subject: titleOf(e), text: `${linesOf(e, publicUrl).join('\n')}\n` };
}

/** A line of robot markdown: the link becomes a link, the rest is plain text (markdown characters are not special there). */
function markdownLine(line: string): string {
  const m = /^Job page: (\S+)$/.exec(line);
  return m ? `[Open the job page](${m[1]})` : line;
}
