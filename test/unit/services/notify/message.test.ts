// What each kind of channel is sent, and the signatures, from fixed inputs.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dingtalkSignedUrl, feishuSign, httpRequestFor, linesOf, mailFor, titleOf, webhookSignature } from '../../../../src/services/notify/message.ts';
import type { NotifyEvent } from '../../../../src/services/notify/events.ts';
import { notifyUrlHint } from '../../../../src/services/config/rules.ts';
import { humanDelay } from '../../../../src/services/notify/worker.ts';
import { viewHelpers } from '../../../../src/web/view-helpers.ts';

const failed: NotifyEvent = {
  event: 'publish.failed', project: 'game', jobId: 7, kind: 'publish', status: 'failed', revision: 9, user: 'alice', hostCount: 30,
  failedHosts: Array.from({ length: 25 }, (_, i) => `h${i + 1}`), reason: 'svn export failed',
};

describe('notification messages', () => {
  it('name project, revision, who, failed hosts (the first 20), the error and the job link', () => {
    expect(titleOf(failed)).toBe('[Ferry] game: publish failed (r9)');
    expect(linesOf(failed, 'https://ferry.example')).toEqual([
      'Project: game', 'Job: #7 (publish), status failed', 'Revision: r9', 'By: alice', 'Hosts: 30',
      `Failed on 25: ${Array.from({ length: 20 }, (_, i) => `h${i + 1}`).join(', ')} and 5 more`,
      'Error: svn export failed', 'Job page: https://ferry.example/jobs/7',
    ]);
    expect(titleOf({ ...failed, event: 'approval.rejected', status: 'rejected', decidedBy: 'bob' })).toBe('[Ferry] game: publish rejected (r9)');
    expect(titleOf({ ...failed, event: 'process.failed', kind: 'process', action: 'restart', status: 'partial', revision: null })).toBe('[Ferry] game: restart partial');
    expect(mailFor(failed, 'https://ferry.example').subject).toBe('[Ferry] game: publish failed (r9)');
  });

  it('sign as DingTalk, Feishu and the webhook receivers expect', () => {
    const url = new URL(dingtalkSignedUrl('https://oapi.dingtalk.com/robot/send?access_token=t', 'SECx', 1700000000000));
    expect(url.searchParams.get('access_token')).toBe('t');
    expect(url.searchParams.get('timestamp')).toBe('1700000000000');
    expect(url.searchParams.get('sign')).toBe(crypto.createHmac('sha256', 'SECx').update('1700000000000\nSECx').digest('base64'));
    expect(feishuSign('s', 1700000000)).toBe(crypto.createHmac('sha256', '1700000000\ns').update('').digest('base64'));
    expect(webhookSignature('k', 1700000000, '{"a":1}')).toBe(`sha256=${crypto.createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex')}`);
    const plain = httpRequestFor('feishu', 'https://open.feishu.cn/hook/x', null, failed, 'https://f', 1700000000000);
    expect(Object.keys(JSON.parse(plain.body) as object)).toEqual(['msg_type', 'content']);
    const unsigned = httpRequestFor('webhook', 'https://ci.example/h', null, failed, 'https://f', 1700000000000);
    expect(unsigned.headers).toEqual({ 'content-type': 'application/json', 'x-ferry-event': 'publish.failed', 'x-ferry-timestamp': '1700000000' });
  });

  it('show only scheme, host and path of a channel URL, long path parts hidden', () => {
    expect(notifyUrlHint('https://oapi.dingtalk.com/robot/send?access_token=abc')).toBe('https://oapi.dingtalk.com/robot/send');
    expect(notifyUrlHint('https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnopqrstuvwx')).toBe('https://hooks.slack.com/services/T0001/B0001/…');
    expect(notifyUrlHint('https://user:pw@ci.example:8443/hook#frag')).toBe('https://ci.example:8443/hook');
  });

  it('say delays and ages in plain words', () => {
    expect([30_000, 120_000, 600_000, 3600_000].map(humanDelay)).toEqual(['30 s', '2 min', '10 min', '1 h']);
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(viewHelpers.fmtAgo(new Date(now - 20_000), now)).toBe('just now');
    expect(viewHelpers.fmtAgo(new Date(now - 180_000), now)).toBe('3 min ago');
    expect(viewHelpers.fmtAgo(new Date(now - 2 * 86_400_000), now)).toBe('2 days ago');
  });
});
