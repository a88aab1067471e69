// Bulk import of the team-release settings: a project's approval settings and notification channels, and the
// "approve" grant, against a real, migrated SQLite file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { decryptSecret } from '../../src/lib/crypto.ts';
import { FerryError } from '../../src/lib/errors.ts';
import { applyImport, parseImportData, parseImportFile, planImport, type ImportPlan } from '../../src/services/import.ts';
import { adminCtx, createTestDb, type TestDb } from '../kit/db.ts';

const DING_URL = 'https://oapi.dingtalk.com/robot/send?access_token=ding-token-123';

type ChannelEntry = { name: string; kind: string; url?: string; secret?: string; to?: string; events?: string[] };

const teamData = () => ({
  projects: [{
    name: 'game', svnUrl: 'svn://svn.example/game/trunk', deployDir: '/srv/game',
    requireApproval: true, rollbackNeedsApproval: true, approvalHours: 8,
    notifications: [
      { name: 'ops-ding', kind: 'dingtalk', url: DING_URL, secret: 'SECsign', events: ['publish.failed', 'publish.partial'] },
      { name: 'ops-mail', kind: 'email', to: 'ops@example.com; lead@example.com' },
      { name: 'ci', kind: 'webhook', url: 'https://ci.example.com/ferry-hook', secret: 'hmac-key' },
    ] as ChannelEntry[],
  }],
  users: [{ name: 'lead', role: 'member', password: 'lead-Password-0815', grants: { game: ['publish', 'approve'] } }],
});

let t: TestDb;
beforeEach(async () => { t = await createTestDb(); });
afterEach(async () => { await t.cleanup(); });

const actions = (plan: ImportPlan) => plan.items.map((i) => `${i.kind}:${i.project ? `${i.project}/` : ''}${i.name}:${i.action}${i.changes.length ? `[${i.changes.join(',')}]` : ''}`);

function problemsOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (err) {
    if (err instanceof FerryError) return err.fields ?? {};
    throw err;
  }
  throw new Error('expected the file to be refused');
}

describe('import of approval settings, notification channels and the approve grant', () => {
  it('creates the approval settings, the channels with encrypted URL and secret, and the approve grant', async () => {
    const result = await applyImport(t.svc, adminCtx(), parseImportFile(YAML.stringify(teamData()), 'yaml'));
    expect(result.summary).toBe('created 1 project, 3 notification channels, 1 user');

    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' }, include: { notificationChannels: { orderBy: { name: 'asc' } } } });
    expect(project).toMatchObject({ requireApproval: true, rollbackNeedsApproval: true, approvalHours: 8 });
    const [ci, ding, mail] = project.notificationChannels;
    expect(ding).toMatchObject({ kind: 'dingtalk', urlHint: 'https://oapi.dingtalk.com/robot/send', events: '["publish.failed","publish.partial"]', enabled: true });
    expect(decryptSecret(t.secretKey, ding.urlEnc!)).toBe(DING_URL);
    expect(decryptSecret(t.secretKey, ding.secretEnc!)).toBe('SECsign');
    expect(mail).toMatchObject({ kind: 'email', urlEnc: null, urlHint: '', to: 'ops@example.com, lead@example.com', events: '' });
    expect(ci).toMatchObject({ kind: 'webhook', urlHint: 'https://ci.example.com/ferry-hook', events: '' });
    expect(JSON.stringify(project)).not.toContain('ding-token-123');

    const lead = await t.db.user.findUniqueOrThrow({ where: { name: 'lead' }, include: { grants: true } });
    expect(lead.grants[0]).toMatchObject({ canPublish: true, canApprove: true, canRollback: false, canProcess: false });
  });

  it('imports the same file twice without a change, and then updates only what differs without showing secrets', async () => {
    await applyImport(t.svc, adminCtx(), parseImportData(teamData()));
    const again = await planImport(t.svc, parseImportData(teamData()));
    expect(again.summary).toBe('nothing to change (5 unchanged)');

    const data = teamData();
    data.projects[0].approvalHours = 48;
    data.projects[0].requireApproval = false;
    const [ding0, mail0, ci0] = data.projects[0].notifications;
    // ops-ding: a new URL and no event list (every event); ci: secret left out, so the stored one stays.
    data.projects[0].notifications = [{ name: ding0.name, kind: ding0.kind, url: `${DING_URL}-new`, secret: 'SECsign' }, mail0, { name: ci0.name, kind: ci0.kind, url: ci0.url! }];
    const result = await applyImport(t.svc, adminCtx(), parseImportData(data));
    expect(actions(result).filter((a) => !a.endsWith(':unchanged'))).toEqual([
      'project:game:update[requireApproval,approvalHours]',
      'notification:game/ops-ding:update[url (secret),events]',
    ]);
    expect(JSON.stringify(result)).not.toContain('ding-token');
    const ding = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ops-ding' } });
    expect(decryptSecret(t.secretKey, ding.urlEnc!)).toBe(`${DING_URL}-new`);
    expect(ding.events).toBe('');
    const ci = await t.db.notificationChannel.findFirstOrThrow({ where: { name: 'ci' } });
    expect(decryptSecret(t.secretKey, ci.secretEnc!)).toBe('hmac-key');
    const project = await t.db.project.findUniqueOrThrow({ where: { name: 'game' } });
    expect(project).toMatchObject({ requireApproval: false, rollbackNeedsApproval: true, approvalHours: 48 });
  });

  it('refuses channels without what their kind needs, unknown kinds and events, and out-of-range hours, naming entry and field', () => {
    const data = teamData();
    Object.assign(data.projects[0], { approvalHours: 0 });
    data.projects[0].notifications = [
      { name: 'no-url', kind: 'slack' },
      { name: 'no-to', kind: 'email' },
      { name: 'bad-kind', kind: 'pager', url: 'https://x.example/' },
      { name: 'bad-event', kind: 'slack', url: 'https://x.example/', events: ['publish.exploded'] },
      { name: 'ftp', kind: 'webhook', url: 'ftp://x.example/' },
      { name: 'no-url', kind: 'wecom', url: 'https://x.example/' },
    ];
    const problems = problemsOf(() => parseImportData(data));
    expect(problems).toMatchObject({
      'projects[0].approvalHours': 'must be at least 1',
      'projects[0].notifications[0].url': 'required for this kind of channel',
      'projects[0].notifications[1].to': 'required for an e-mail channel',
      'projects[0].notifications[4].url': 'must be an http:// or https:// address',
    });
    expect(problems['projects[0].notifications[2].kind']).toContain('must be one of dingtalk, wecom, feishu, slack, webhook, email');
    expect(problems['projects[0].notifications[3].events[0]']).toContain('must be one of approval.requested');
  });
});
