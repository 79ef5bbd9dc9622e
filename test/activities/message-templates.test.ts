import { LOCALES } from '../../config/schema';
import {
  loadMessageTemplates,
  NOTIFICATION_KINDS,
  TEMPLATE_FILES,
  type MessageTemplates,
} from '../../activities/templates/catalog';
import { AUDIENCES, type Scope } from '../../workflows/messages';
import { fullMessage, minimalMessage } from './message-fixtures';

const SCOPES: Scope[] = ['all-users', 'one-protocol', 'single-user', 'delivery-delayed', 'unknown', 'none'];

const templatesByLocale = new Map<string, MessageTemplates>(
  LOCALES.map((locale) => [locale, loadMessageTemplates({ locale, timeZone: 'Europe/Paris' })]),
);

const cases = LOCALES.flatMap((locale) =>
  AUDIENCES.flatMap((audience) => NOTIFICATION_KINDS.map((kind) => [locale, audience, kind] as const)),
);

describe('every shipped template', () => {
  it('is one file per audience and kind in each language, plus the report and the phrases', () => {
    expect(TEMPLATE_FILES).toHaveLength(LOCALES.length * (AUDIENCES.length * NOTIFICATION_KINDS.length + 2));
    expect(TEMPLATE_FILES).toContain('fr/users/closed.hbs');
    expect(TEMPLATE_FILES).toContain('en/report.md.hbs');
  });

  it.each(cases)('renders %s %s %s from a full and from a minimal message', (locale, audience, kind) => {
    const templates = templatesByLocale.get(locale)!;
    const messages = [
      minimalMessage(kind),
      fullMessage(kind),
      fullMessage(kind, { checksPassed: true, actionNeeded: { kind: 'confirm', required: 2, confirmedBy: ['bob'] } }),
      ...SCOPES.map((scope) => minimalMessage(kind, { scope })),
    ];
    for (const message of messages) {
      const { subject, text } = templates.renderNotification(audience, message);
      expect(subject.trim()).not.toBe('');
      expect(subject).not.toContain('\n');
      expect(text.trim()).not.toBe('');
      expect(`${subject}\n${text}`).not.toMatch(/\{\{|\}\}|undefined|null|\[object/);
      expect(text).not.toMatch(/\n{3,}/);
    }
  });
});

describe('when who is affected is not known', () => {
  it.each(LOCALES)('management (%s) hears of a possible disruption, not of a certain one', (locale) => {
    const templates = templatesByLocale.get(locale)!;
    const outage = templates.renderNotification('management', minimalMessage('outage', { scope: 'unknown' }));
    const certain = templates.renderNotification('management', minimalMessage('outage', { scope: 'all-users' }));
    expect(outage.subject).not.toBe(certain.subject);
    expect(`${outage.subject}\n${outage.text}`).toMatch(
      locale === 'en' ? /Possible email disruption/ : /Perturbation possible/,
    );
    const escalation = templates.renderNotification(
      'management',
      minimalMessage('escalation', { scope: 'unknown', escalation: 'assessment-incomplete' }),
    );
    expect(escalation.subject).toMatch(locale === 'en' ? /could not be checked/ : /n’a pas pu être vérifiée/);
    expect(escalation.text).not.toMatch(/email disruption|perturbation de la messagerie/i);
  });

  it.each(LOCALES)('the IT team (%s) reads an undelivered notice as such, not as a hand-over', (locale) => {
    const templates = templatesByLocale.get(locale)!;
    const { text } = templates.renderNotification(
      'itTeam',
      minimalMessage('escalation', { escalation: 'notification-failed', reason: 'the outage notice to users failed' }),
    );
    expect(text).toMatch(
      locale === 'en' ? /could not be delivered: reach that audience another way/ : /prévenez ce public/,
    );
    expect(text).not.toMatch(/was escalated and needs a person|a fait l’objet d’une escalade/);
  });

  it.each(LOCALES)(
    'the IT team (%s) reads each check not made and each notice not delivered, in its language',
    (locale) => {
      const templates = templatesByLocale.get(locale)!;
      const unchecked = templates.renderNotification(
        'itTeam',
        minimalMessage('escalation', {
          scope: 'unknown',
          escalation: 'assessment-incomplete',
          reason: 'english summary kept for the timeline',
          unchecked: [
            { check: 'deferred-queue', reason: 'SSH to 10.0.0.5:22 did not finish its handshake within 10 s' },
          ],
        }),
      );
      expect(unchecked.text).toContain('deferred-queue');
      expect(unchecked.text).toMatch(
        locale === 'en' ? /Not checked, so a person must look/ : /Non vérifié, une personne doit/,
      );
      expect(unchecked.text).not.toContain('english summary');
      const undelivered = templates.renderNotification(
        'itTeam',
        minimalMessage('escalation', {
          escalation: 'notification-failed',
          undelivered: [{ audience: 'users', channel: 'users-relay', kind: 'outage', failure: 'NotificationRejected' }],
        }),
      );
      expect(undelivered.text).toMatch(
        locale === 'en'
          ? /- outage notice to users via users-relay \(NotificationRejected\)/
          : /- avis « panne » destiné à : utilisateurs, via users-relay \(NotificationRejected\)/,
      );
      const management = templates.renderNotification(
        'management',
        minimalMessage('escalation', {
          escalation: 'notification-failed',
          undelivered: [{ audience: 'users', channel: '', kind: 'outage', failure: '' }],
        }),
      );
      expect(management.text).toMatch(locale === 'en' ? /Not reached: users\./ : /Non joints : utilisateurs\./);
    },
  );
});
