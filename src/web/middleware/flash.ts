// One-shot messages shown as Bootstrap alerts on the next page.
import type { Request } from 'express';

type FlashType = 'success' | 'danger' | 'warning' | 'info';

export function flash(req: Request, type: FlashType, message: string): void {
  if (!req.session) return;
  (req.session.flash ??= []).push({ type, message });
}

export function takeFlash(req: Request) {
  const messages = req.session?.flash ?? [];
  if (req.session) delete req.session.flash;
  return messages;
}
