import { loadMessageTemplates, NOTIFICATION_KINDS } from '../../activities/templates/catalog';
import type { AudienceName, NotificationMessage } from '../../workflows/messages';
import { fullMessage, INTERNALS, minimalMessage } from './message-fixtures';

const english = loadMessageTemplates({ locale: 'en', timeZone: 'UTC' });
const french = loadMessageTemplates({ locale: 'fr', timeZone: 'Europe/Paris' });

function rendered(audience: AudienceName, message: NotificationMessage, templates = english): string {
  const { subject, text } = templates.renderNotification(audience, message);
  return `${subject}\n${text}`;
}

const bothLanguages = [
  ['en', english],
  ['fr', french],
] as const;

describe('users', () => {
  it.each(
    bothLanguages.flatMap(([locale, templates]) =>
      NOTIFICATION_KINDS.map((kind) => [locale, kind, templates] as const),
    ),
  )('never see internal names in %s %s notices', (_locale, kind, templates) => {
    for (const message of [fullMessage(kind), minimalMessage(kind)]) {
      const text = rendered('users', message, templates).toLowerCase();
      for (const internal of INTERNALS) expect(text).not.toContain(internal.toLowerCase());
      expect(text).not.toContain('approve');
    }
  });

  it('get a plain subject that names the disruption, not the tool or the server', () => {
    expect(english.renderNotification('users', minimalMessage('outage')).subject).toBe('Email disruption');
    expect(french.renderNotification('users', minimalMessage('outage')).subject).toBe('Perturbation de la messagerie');
  });

  it('are told the impact, what to do meanwhile and the expected repair time', () => {
    const text = rendered('users', minimalMessage('outage', { eta: '2026-11-29T13:00:00.000Z' }));
    expect(text).toContain('Email is not working for anyone');
    expect(text).toContain('What you can do meanwhile: For anything urgent, use the phone or chat.');
    expect(text).toContain('We expect email to work normally again by Sunday, 29 November 2026 at 13:00 (UTC).');
    expect(rendered('users', minimalMessage('outage'))).toContain('We will give an estimate as soon as we have one.');
  });

  it.each(bothLanguages)(
    'are not told steps were taken when prevention is only recommended (%s)',
    (_locale, templates) => {
      const text = rendered('users', fullMessage('resolved'), templates);
      expect(text).not.toMatch(/taken steps|does not happen again|ne se reproduise|mesures/i);
      expect(text).not.toContain('Monitor the postfix');
    },
  );

  it('are told mail works again once the checks pass, never that it is still disrupted, even when the ETA changed', () => {
    for (const templates of [english, french]) {
      for (const kind of ['update', 'reminder'] as const) {
        const text = rendered('users', fullMessage(kind, { checksPassed: true, etaChanged: true }), templates);
        expect(text).toMatch(/Email is working again|La messagerie fonctionne de nouveau/);
        expect(text).not.toMatch(/still|not fixed|toujours|pas encore résolu/i);
      }
    }
  });

  it('are told the estimate changed, and to what', () => {
    const text = rendered('users', minimalMessage('update', { eta: '2026-11-29T15:30:00.000Z', etaChanged: true }));
    expect(text).toContain(
      'Our estimate has changed: we now expect email to work normally again by Sunday, 29 November 2026 at 15:30 (UTC).',
    );
  });

  it('are told a delayed queue loses nothing and sending may only be slow', () => {
    const text = rendered('users', minimalMessage('outage', { scope: 'delivery-delayed' }));
    expect(text).toContain('Sending may be delayed');
    expect(text).toContain('queued');
    expect(text).toContain('Nothing is lost');
    expect(text).not.toContain('not working for anyone');
  });
});

describe('management', () => {
  it.each(
    bothLanguages.flatMap(([locale, templates]) =>
      NOTIFICATION_KINDS.map((kind) => [locale, kind, templates] as const),
    ),
  )('never see diagnosis text, reasons, hypotheses or action ids in %s %s notices', (_locale, kind, templates) => {
    const text = rendered('management', fullMessage(kind), templates);
    for (const internal of [
      'no master process',
      'postfix check',
      'qmgr exited',
      'SIGSEGV',
      'postfix-start',
      'postfix-set-permissions',
      'Postfix is not running',
      'Monitor the postfix',
      'incident-mx1-7f3a',
      'incidents approve',
    ]) {
      expect(text).not.toContain(internal);
    }
  });

  it('read the failure class and the escalation cause in plain words', () => {
    const text = rendered('management', fullMessage('escalation'));
    expect(text).toContain('because the proposed fix did not get enough approvals in time');
    expect(text).toContain('Cause: a mail service had stopped.');
    expect(rendered('management', fullMessage('resolved', { causeClass: 'some-new-class' }))).toContain(
      'Cause: a fault on the mail server.',
    );
  });

  it('read that outgoing email is delayed, never that nobody can send, when only the queue is slow', () => {
    for (const kind of ['outage', 'update', 'escalation', 'resolved'] as const) {
      const text = rendered('management', minimalMessage(kind, { scope: 'delivery-delayed' }));
      expect(text).toContain('Outgoing email');
      expect(text).toContain('delayed');
      expect(text).not.toMatch(/nobody|cannot|can not/i);
    }
  });

  it('read that recommendations to prevent a repeat are not yet carried out', () => {
    expect(rendered('management', fullMessage('resolved'))).toContain('have not been carried out yet');
  });

  it('are told who closed an incident', () => {
    const text = rendered('management', fullMessage('closed', { reason: 'fixed by hand: restarted postfix' }));
    expect(text).toContain('alice of the IT team closed the email incident on mx1');
    expect(text).not.toContain('restarted postfix');
  });
});

describe('the IT team', () => {
  it('is asked for nothing in the first outage notice', () => {
    const text = rendered('itTeam', minimalMessage('outage', { hypotheses: fullMessage('outage').hypotheses }));
    expect(text).toContain('Postfix is not running (confidence 55%, action postfix-start)');
    expect(text).not.toContain('incidents approve');
    expect(text).not.toContain('incidents confirm');
    expect(text).not.toContain('Action needed');
  });

  it('gets the evidence and the approve command with M-of-N progress when approval is needed', () => {
    const text = rendered('itTeam', fullMessage('update'));
    expect(text).toContain('Root cause: no master process, while its configuration passes postfix check');
    // An update's reason only restated the action needed in the workflow's English; the action block says it now.
    expect(text).not.toContain('Reason:');
    expect(text).toContain('Approvals 1 of 2: alice');
    expect(text).toContain('npx mailmend incidents approve mx1 --by "$USER"\n');
    expect(text).toContain(
      '- Postfix cannot write its queue (30%): npx mailmend incidents approve mx1 --by "$USER" --action postfix-set-permissions',
    );
    expect(text).not.toContain('--action postfix-start');
    expect(text).not.toContain('incidents confirm');
  });

  it('gets the confirm command and no approve command during verification', () => {
    const text = rendered(
      'itTeam',
      fullMessage('update', {
        checksPassed: true,
        actionNeeded: { kind: 'confirm', required: 2, confirmedBy: ['bob'] },
      }),
    );
    expect(text).toContain('npx mailmend incidents confirm mx1 --by "$USER"');
    expect(text).toContain('Confirmations 1 of 2: bob');
    expect(text).not.toContain('incidents approve');
    expect(text).toContain('passed the automated checks');
  });

  it('reads what was done apart from what is only recommended', () => {
    const text = rendered('itTeam', fullMessage('resolved'));
    expect(text).toContain('Actions taken:\n- postfix-start (exit 0)');
    expect(text).toContain(
      'Recommended to prevent a repeat (not done yet):\n- Monitor the postfix master process with systemd Restart=on-failure',
    );
    expect(text).not.toContain('incidents approve');
  });

  it('reads who closed the incident and why', () => {
    const text = rendered('itTeam', minimalMessage('closed', { closedBy: 'alice', reason: 'fixed by hand' }));
    expect(text).toContain('alice ended the incident on mx1: fixed by hand.');
  });

  it('reads which certificate expires when, with the days left', () => {
    const { subject, text } = english.renderNotification('itTeam', fullMessage('certificate-expiry'));
    expect(subject).toContain('certificate expires soon (5 days left)');
    expect(text).toContain(
      "- SMTP: CN=mx1.example.org (issued by CN=R11, O=Let's Encrypt) expires Friday, 4 December 2026 at 12:00 (UTC), 5 days left",
    );
  });
});

describe('in French', () => {
  it('every audience reads French, with times in the configured zone', () => {
    const message = fullMessage('outage', { actionNeeded: undefined });
    expect(rendered('users', message, french)).toContain(
      'Nous prévoyons un retour à la normale d’ici le dimanche 29 novembre 2026 à 14:00 (UTC+1).',
    );
    expect(rendered('management', message, french)).toContain('Impact sur l’activité : Personne dans l’organisation');
    const it = rendered('itTeam', message, french);
    expect(it).toContain('Ouvert : dimanche 29 novembre 2026 à 12:26 (UTC+1)');
    expect(it).toContain('Cause racine : no master process');
    expect(it).not.toContain('incidents approve');
  });

  it('the approval request speaks French and keeps the commands as they are typed', () => {
    const text = rendered('itTeam', fullMessage('update'), french);
    expect(text).toContain('Approbations 1 sur 2 : alice');
    expect(text).toContain('npx mailmend incidents approve mx1 --by "$USER"');
    expect(text).toMatch(/confiance 55\s%/);
  });
});
