// Planner for projects' notification channels: like processes and hooks, matched by name within their project,
// created or updated, never deleted. The URL and secret are compared by decrypting and never shown in the preview.
import { encryptOptional } from '../../lib/crypto.ts';
import { eventsToStored } from '../config/notifications.ts';
import { notifyUrlHint } from '../config/rules.ts';
import { item, sameSecret, type BuiltImport, type Stored } from './plan-common.ts';
import type { ImportDocument, NotificationEntry } from './schema.ts';

/** What the file says a channel stores (secret: undefined keeps the stored one, "" clears it). */
function wanted(n: NotificationEntry) {
  const email = n.kind === 'email';
  const url = email ? null : (n.url ?? null);
  return { kind: n.kind, url, urlHint: url ? notifyUrlHint(url) : '', to: email ? (n.to ?? '') : '', events: eventsToStored(n.events) };
}

export function planNotifications(doc: ImportDocument, stored: Stored, key: Buffer, out: BuiltImport): void {
  for (const p of doc.projects) {
    const storedChannels = new Map((stored.projects.get(p.name)?.notificationChannels ?? []).map((c) => [c.name, c]));
    for (const n of p.notifications ?? []) {
      const w = wanted(n);
      const cur = storedChannels.get(n.name);
      if (!cur) {
        out.plan.notifications.push(item('notification', n.name, null, p.name));
        out.steps.push(async (tx, ids) => {
          await tx.notificationChannel.create({
            data: {
              projectId: await ids.project(p.name), name: n.name, kind: w.kind, urlEnc: encryptOptional(key, w.url), urlHint: w.urlHint,
              secretEnc: encryptOptional(key, n.secret), to: w.to, events: w.events,
            },
          });
        });
        continue;
      }
      const changes: string[] = [];
      if (cur.kind !== w.kind) changes.push('kind');
      const urlChanged = !sameSecret(key, cur.urlEnc, w.url);
      if (urlChanged) changes.push('url (secret)');
      const secretChanged = n.secret !== undefined && !sameSecret(key, cur.secretEnc, n.secret);
      if (secretChanged) changes.push('secret (secret)');
      if (cur.to !== w.to) changes.push('to');
      if (cur.events !== w.events) changes.push('events');
      out.plan.notifications.push(item('notification', n.name, changes, p.name));
      if (!changes.length) continue;
      out.steps.push(async (tx) => {
        await tx.notificationChannel.update({
          where: { id: cur.id },
          data: {
            kind: w.kind, to: w.to, events: w.events,
            ...(urlChanged && { urlEnc: encryptOptional(key, w.url), urlHint: w.urlHint }),
            ...(secretChanged && { secretEnc: encryptOptional(key, n.secret) }),
            // A new address or secret starts afresh: the last outcome was about the old one.
            ...((urlChanged || secretChanged) && { lastStatus: '', lastError: '', lastAt: null }),
          },
        });
      });
    }
  }
}
