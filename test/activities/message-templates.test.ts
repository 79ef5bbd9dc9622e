import { LOCALES } from '../../config/schema';
import {
  loadMessageTemplates,
  NOTIFICATION_KINDS,
  TEMPLATE_FILES,
  type MessageTemplates,
} from '../../activities/templates/catalog';
import { AUDIENCES, type Scope } from '../../workflows/messages';
import { fullMessage, minimalMessage } from './message-fixtures';

const SCOPES: Scope[] = ['all-users', 'one-protocol', 'single-user', 'delivery-delayed', 'none'];

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
