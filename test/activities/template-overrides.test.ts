import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadMessageTemplates, TemplateFileError } from '../../activities/templates/catalog';
import { minimalMessage } from './message-fixtures';

describe('operator templates under templatesDir', () => {
  let templatesDir: string;

  beforeEach(async () => {
    templatesDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-templates-'));
  });
  afterEach(() => rm(templatesDir, { recursive: true, force: true }));

  async function write(relative: string, text: string): Promise<string> {
    const file = path.join(templatesDir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text, 'utf8');
    return file;
  }

  it('replace the shipped template at the same path and leave every other one as shipped', async () => {
    await write(
      'en/users/outage.hbs',
      'Subject: Mail trouble at Example Corp\n\nCall the help desk on 1234. {{phrase "usersImpact" scope}}\n',
    );
    const templates = loadMessageTemplates({ locale: 'en', timeZone: 'UTC', templatesDir });

    expect(templates.renderNotification('users', minimalMessage('outage'))).toEqual({
      subject: 'Mail trouble at Example Corp',
      text: 'Call the help desk on 1234. Email is not working for anyone at the moment: you may not be able to send or receive messages.\n',
    });
    expect(templates.renderNotification('management', minimalMessage('outage')).subject).toBe(
      'Email disruption on mx1 (critical)',
    );
  });

  it('may change single phrases, keeping the rest', async () => {
    await write(
      'fr/phrases.yaml',
      'severity:\n  critical: très grave\ncauseClass:\n  not-running: le service était arrêté\n',
    );
    const templates = loadMessageTemplates({ locale: 'fr', timeZone: 'Europe/Paris', templatesDir });

    const { subject, text } = templates.renderNotification(
      'management',
      minimalMessage('update', { causeClass: 'not-running' }),
    );
    expect(subject).toContain('(gravité très grave)');
    expect(text).toContain('Cause : le service était arrêté.');
    expect(text).toContain('Impact sur l’activité : Personne dans l’organisation');
  });

  it('fail at load, naming the file, when a template uses a key its audience does not have', async () => {
    const file = await write('en/users/resolved.hbs', 'Subject: Fixed\n\nThe incident {{incidentId}} is fixed.\n');

    const failure = (() => {
      try {
        loadMessageTemplates({ locale: 'en', timeZone: 'UTC', templatesDir });
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(TemplateFileError);
    expect((failure as TemplateFileError).file).toBe(file);
    expect((failure as Error).message).toContain(file);
    expect((failure as Error).message).toContain('"incidentId" not defined');
  });

  it('fail at load, naming the file, when a template does not parse', async () => {
    const file = await write('fr/itTeam/outage.hbs', 'Subject: {{serverId}}\n\n{{#if eta}}no end\n');
    expect(() => loadMessageTemplates({ locale: 'fr', timeZone: 'UTC', templatesDir })).toThrow(
      new RegExp(`invalid template file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: Parse error`),
    );
  });

  it('fail at load when the subject line is missing', async () => {
    const file = await write('en/management/outage.hbs', 'Email is down.\n');
    expect(() => loadMessageTemplates({ locale: 'en', timeZone: 'UTC', templatesDir })).toThrow(
      `invalid template file ${file}: the first line must be "Subject: <subject>"`,
    );
  });

  it('fail at load when a file is at a path mailmend does not use, such as a misspelt kind', async () => {
    const file = await write('en/users/outgae.hbs', 'Subject: x\n\ny\n');
    expect(() => loadMessageTemplates({ locale: 'en', timeZone: 'UTC', templatesDir })).toThrow(
      `invalid template file ${file}: mailmend uses no template at en/users/outgae.hbs`,
    );
  });

  it('fail at load when a phrase file drops a phrase that has no fallback, or has a bad value', async () => {
    const file = await write('en/phrases.yaml', 'severity:\n  critical: [a, list]\n');
    expect(() => loadMessageTemplates({ locale: 'en', timeZone: 'UTC', templatesDir })).toThrow(
      `invalid template file ${file}: severity.critical`,
    );
  });
});
