// One-shot messages shown as Bootstrap alerts on the next page.
import type { Request } from 'express';
import { fill, type MessageParams } from '../../lib/messages.ts';

type FlashType = 'success' | 'danger' | 'warning' | 'info';

/** `message` is an English message key, shown on the next page in the user's language with `params` filled in. */
export function flash(req: Request, type: FlashType, message: string, params?: MessageParams): void {
  if (!req.session) return;
  (req.session.flash ??= []).push({ type, message: req.t ? req.t(message, params) : fill(message, params) });
}

export function takeFlash(req: Request) {
  const messages = req.session?.flash ?? [];
  if (req.session) delete req.session.flash;
  return messages;
}
