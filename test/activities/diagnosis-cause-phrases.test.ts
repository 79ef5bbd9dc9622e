import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadSignatureCatalog } from '../../activities/signatures/catalog';
import { loadMessageTemplates } from '../../activities/templates/catalog';
import { fullMessage } from './message-fixtures';

// Management reads the diagnosis's failure class in plain words; a class without a phrase falls back to "a fault on
// the mail server", which misleads when the fault is mailmend's own access to the host.

const ACTIVITIES = path.join(__dirname, '../../activities');
const FALLBACK = { en: 'Cause: a fault on the mail server.', fr: 'Cause : une panne sur le serveur de messagerie.' };

/** Every failure class a diagnosis can give: the rules' own, and the shipped log signatures'. */
function diagnosisFailureClasses(): string[] {
  const fromRules = readdirSync(ACTIVITIES)
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => readFileSync(path.join(ACTIVITIES, file), 'utf8').split('\n'))
    .filter((line) => /^\s*failureClass: /.test(line))
    .flatMap((line) => [...line.matchAll(/'([a-z][a-z-]*)'/g)].map((match) => match[1] ?? ''));
  const fromSignatures = loadSignatureCatalog().map((signature) => signature.failureClass);
  return [...new Set([...fromRules, ...fromSignatures])].sort();
}

describe.each([
  ['en', 'UTC'],
  ['fr', 'Europe/Paris'],
] as const)('the %s cause phrases', (locale, timeZone) => {
  const templates = loadMessageTemplates({ locale, timeZone });
  const causeRead = (causeClass: string) => {
    const { text } = templates.renderNotification('management', fullMessage('resolved', { causeClass }));
    return text.split('\n').find((line) => line.startsWith('Cause'));
  };

  test('the fallback is what an unknown class reads', () => {
    expect(causeRead('some-new-class')).toBe(FALLBACK[locale]);
  });

  test.each(diagnosisFailureClasses())('name %s in its own words', (failureClass) => {
    expect(causeRead(failureClass)).not.toBe(FALLBACK[locale]);
  });

  test('say that the host stopped answering, or could not be looked at, rather than that mail failed', () => {
    const words = {
      en: [
        "Cause: the mail server stopped answering mailmend's commands.",
        'Cause: mailmend could not look at the mail server over SSH.',
      ],
      fr: [
        'Cause : le serveur de messagerie ne répondait plus aux commandes de mailmend.',
        'Cause : mailmend ne pouvait pas examiner le serveur de messagerie par SSH.',
      ],
    };
    expect([causeRead('host-unresponsive'), causeRead('host-uninspectable')]).toEqual(words[locale]);
  });
});
