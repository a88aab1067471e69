// Sends one message to one channel, once: an HTTP POST for robots and webhooks (a timeout, no redirects, only
// http/https, a capped read of the answer, robots' {"errcode":N} checked) or an e-mail through the configured SMTP
// server. Any failure is thrown as a DeliveryError whose message an operator can act on and which holds no secret.
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../../config.ts';
import { httpRequestFor, mailFor, type ChannelKind, type DeliveredEvent } from './message.ts';

export class DeliveryError extends Error {}

/** A channel as the sender needs it: secrets already decrypted. */
export interface ChannelTarget {
  kind: ChannelKind;
  url: string | null;
  secret: string | null;
  to: string;
}

export interface SendSettings {
  publicUrl: string;
  smtp: SmtpConfig | null;
  timeoutMs: number;
  responseBytes: number;
}

/** Sends `event` to `target`; resolves when the receiver accepted it. */
export async function sendTo(target: ChannelTarget, event: DeliveredEvent, settings: SendSettings): Promise<void> {
  if (target.kind === 'email') return sendMail(target, event, settings);
  if (!target.url) throw new DeliveryError('The channel has no URL.');
  const request = httpRequestFor(target.kind, target.url, target.secret, event, settings.publicUrl);
  const url = new URL(request.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DeliveryError('Only http:// and https:// addresses can be used.');
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body, redirect: 'manual', signal: AbortSignal.timeout(settings.timeoutMs) });
  } catch (err) {
    throw new DeliveryError(networkProblem(err, url.host, settings.timeoutMs));
  }
  const text = await readCapped(res, settings.responseBytes, settings.timeoutMs);
  if (res.status >= 300 && res.status < 400) throw new DeliveryError(`HTTP ${res.status}: the address redirects elsewhere; Ferry does not follow redirects, so enter the final address.`);
  if (!res.ok) throw new DeliveryError(`HTTP ${res.status}${snippet(text) ? `: ${snippet(text)}` : ''}`);
  const refusal = robotRefusal(target.kind, text);
  if (refusal) throw new DeliveryError(refusal);
}

/** DingTalk and WeCom answer 200 with {"errcode":N,"errmsg":…}, Feishu with {"code":N,"msg":…}: non-zero is a refusal. */
function robotRefusal(kind: ChannelKind, text: string): string | null {
  if (kind !== 'dingtalk' && kind !== 'wecom' && kind !== 'feishu') return null;
  let answer: { errcode?: unknown; errmsg?: unknown; code?: unknown; msg?: unknown; StatusCode?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    return `The robot's answer is not JSON: ${snippet(text) || '(empty)'}`;
  }
  const code = kind === 'feishu' ? (answer.code ?? answer.StatusCode) : answer.errcode;
  if (code === undefined || code === 0) return null;
  const message = kind === 'feishu' ? answer.msg : answer.errmsg;
  return `The robot refused the message: error ${String(code)}${typeof message === 'string' && message ? ` (${message.slice(0, 200)})` : ''}`;
}

/** Reads at most `limit` bytes of the answer and drops the rest, so a huge or endless answer costs nothing. */
async function readCapped(res: Response, limit: number, timeoutMs: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const deadline = setTimeout(() => void reader.cancel().catch(() => undefined), timeoutMs);
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken or cut-off answer: what arrived is enough to judge.
  } finally {
    clearTimeout(deadline);
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

const snippet = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 200);

function networkProblem(err: unknown, host: string, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `No answer from ${host} within ${Math.round(timeoutMs / 1000)} s.`;
  const code = e.cause?.code;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused', ENOTFOUND: 'unknown host name', EAI_AGAIN: 'the host name could not be looked up',
    ECONNRESET: 'the connection was reset', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ETIMEDOUT: 'the connection timed out',
  };
  const reason = (code && reasons[code]) ?? e.cause?.message ?? (err instanceof Error ? err.message : String(err));
  return `Could not reach ${host}: ${reason}.`;
}

async function sendMail(target: ChannelTarget, event: DeliveredEvent, settings: SendSettings): Promise<void> {
  if (!settings.smtp) throw new DeliveryError('No SMTP server is configured for e-mail: set FERRY_SMTP_URL and FERRY_SMTP_FROM and restart Ferry.');
  if (!target.to) throw new DeliveryError('The channel has no recipients.');
  const transport = nodemailer.createTransport({
    url: settings.smtp.url,
    connectionTimeout: settings.timeoutMs, greetingTimeout: settings.timeoutMs, socketTimeout: settings.timeoutMs,
  });
  const mail = mailFor(event, settings.publicUrl);
  try {
    await transport.sendMail({ from: settings.smtp.from, to: target.to, subject: mail.subject, text: mail.text });
  } catch (err) {
    const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
    const detail = e.response ? `${e.responseCode ?? ''} ${e.response}`.trim() : (e.message ?? String(err));
    throw new DeliveryError(`The SMTP server did not take the e-mail: ${detail.slice(0, 300)}`);
  } finally {
    transport.close();
  }
}
