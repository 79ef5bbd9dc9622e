import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { LOCALES, type Locale } from '../../config/schema';
import {
  AUDIENCES,
  type AudienceName,
  type IncidentReport,
  type NotificationKind,
  type NotificationMessage,
} from '../../workflows/messages';
import { reportView } from '../report-markdown';
import { registerTemplateHelpers } from './helpers';
import { notificationView } from './notification-views';
import { mergePhrases, parsePhrases, type Phrases } from './phrases';
import { sampleMessages, sampleReports } from './samples';

export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'outage',
  'update',
  'escalation',
  'resolved',
  'false-alarm',
  'reminder',
  'certificate-expiry',
  'closed',
];

const PHRASES_FILE = 'phrases.yaml';
const REPORT_FILE = 'report.md.hbs';

/** `en/users/outage.hbs`: the path of one notification template, relative to a templates directory. */
export function notificationTemplatePath(locale: Locale, audience: AudienceName, kind: NotificationKind): string {
  return `${locale}/${audience}/${kind}.hbs`;
}

/** Every file mailmend ships, relative to the templates directory; an operator's file replaces the one at its path. */
export const TEMPLATE_FILES: readonly string[] = LOCALES.flatMap((locale) => [
  `${locale}/${PHRASES_FILE}`,
  `${locale}/${REPORT_FILE}`,
  ...AUDIENCES.flatMap((audience) =>
    NOTIFICATION_KINDS.map((kind) => notificationTemplatePath(locale, audience, kind)),
  ),
]);

export interface TemplateSettings {
  locale: Locale;
  /** IANA zone every time is shown in. */
  timeZone: string;
  /** Operator templates laid out like the shipped ones; absent when none are used. */
  templatesDir?: string;
}

export interface RenderedNotification {
  subject: string;
  text: string;
}

/** The messages of one language and zone, every template compiled and tried when loaded. */
export interface MessageTemplates {
  readonly locale: Locale;
  readonly timeZone: string;
  renderNotification(audience: AudienceName, message: NotificationMessage): RenderedNotification;
  renderReport(report: IncidentReport): string;
}

/** A template or phrase file that cannot be used; names the file, shipped or the operator's. */
export class TemplateFileError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`invalid template file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'TemplateFileError';
  }
}

/**
 * The shipped templates. tsc does not copy them, so the compiled module, one level deeper under dist/, reads them
 * from the source tree.
 */
export function shippedTemplatesDir(): string {
  const candidates = [__dirname, path.resolve(__dirname, '..', '..', '..', 'activities', 'templates')];
  const found = candidates.find((directory) => existsSync(path.join(directory, 'en', PHRASES_FILE)));
  if (!found) throw new Error(`no shipped message templates next to ${__dirname}`);
  return found;
}

interface SourceFile {
  file: string;
  text: string;
}

/** Files under the operator's directory, relative and with `/`; hidden files such as `.DS_Store` are skipped. */
function operatorFiles(templatesDir: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const name of readdirSync(path.join(templatesDir, relative))) {
      if (name.startsWith('.')) continue;
      const child = relative ? `${relative}/${name}` : name;
      if (statSync(path.join(templatesDir, child)).isDirectory()) walk(child);
      else found.push(child);
    }
  };
  walk('');
  return found;
}

function checkOperatorFiles(templatesDir: string): void {
  if (!existsSync(templatesDir) || !statSync(templatesDir).isDirectory()) {
    throw new TemplateFileError(templatesDir, new Error('templatesDir is not a directory'));
  }
  const known = new Set(TEMPLATE_FILES);
  for (const relative of operatorFiles(templatesDir)) {
    if (!known.has(relative)) {
      throw new TemplateFileError(
        path.join(templatesDir, relative),
        new Error(
          `mailmend uses no template at ${relative}; overrides take the path of a shipped file, e.g. en/users/outage.hbs`,
        ),
      );
    }
  }
}

function readSource(directory: string, relative: string): SourceFile {
  const file = path.join(directory, ...relative.split('/'));
  return { file, text: readFileSync(file, 'utf8') };
}

function loadPhrases(shippedDir: string, locale: Locale, templatesDir: string | undefined): Phrases {
  const relative = `${locale}/${PHRASES_FILE}`;
  const shipped = readSource(shippedDir, relative);
  const override =
    templatesDir && existsSync(path.join(templatesDir, relative)) ? readSource(templatesDir, relative) : undefined;
  const parse = ({ file, text }: SourceFile) => {
    try {
      return parsePhrases(text);
    } catch (error) {
      throw new TemplateFileError(file, error);
    }
  };
  try {
    return mergePhrases(parse(shipped), override ? parse(override) : undefined);
  } catch (error) {
    if (error instanceof TemplateFileError) throw error;
    throw new TemplateFileError(override?.file ?? shipped.file, error);
  }
}

const COMPILE_OPTIONS = { strict: true, noEscape: true } as const;
const SUBJECT_LINE = /^Subject:[ \t]*(.*)\r?\n/;

/** Plain text: no trailing spaces, at most one blank line in a row, one final newline. */
function tidyText(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd());
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

/** Like tidyText, but inside code fences (remediation output) every line stays as it was. */
function tidyMarkdown(markdown: string): string {
  const kept: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split(/\r?\n/)) {
    const fenceMark = /^`{3,}/.exec(line)?.[0];
    if (fence === undefined && fenceMark) fence = fenceMark;
    else if (fence !== undefined && line === fence) fence = undefined;
    else if (fence === undefined && line.trim() === '' && (kept.length === 0 || kept[kept.length - 1] === '')) continue;
    kept.push(fence === undefined ? line.trimEnd() : line);
  }
  return `${kept.join('\n').trim()}\n`;
}

type NotificationRenderer = (audience: AudienceName, message: NotificationMessage) => RenderedNotification;

function compileNotification(handlebars: typeof Handlebars, source: SourceFile, audience: AudienceName) {
  const subjectLine = SUBJECT_LINE.exec(source.text);
  if (!subjectLine) throw new TemplateFileError(source.file, new Error('the first line must be "Subject: <subject>"'));
  const subject = handlebars.compile(subjectLine[1] ?? '', COMPILE_OPTIONS);
  const body = handlebars.compile(source.text.slice(subjectLine[0].length), COMPILE_OPTIONS);
  return (message: NotificationMessage): RenderedNotification => {
    const view = notificationView(audience, message);
    try {
      return { subject: subject(view).replace(/\s+/g, ' ').trim(), text: tidyText(body(view)) };
    } catch (error) {
      throw new TemplateFileError(source.file, error);
    }
  };
}

/** Compiles one language's templates and renders each with sample messages, so a bad one fails now, named. */
function compileLocale(shippedDir: string, settings: TemplateSettings) {
  const { locale } = settings;
  const source = (relative: string) =>
    settings.templatesDir && existsSync(path.join(settings.templatesDir, relative))
      ? readSource(settings.templatesDir, relative)
      : readSource(shippedDir, relative);
  const handlebars = Handlebars.create();
  registerTemplateHelpers(
    handlebars,
    locale,
    settings.timeZone,
    loadPhrases(shippedDir, locale, settings.templatesDir),
  );
  const notifications = new Map<string, (message: NotificationMessage) => RenderedNotification>();
  for (const audience of AUDIENCES) {
    for (const kind of NOTIFICATION_KINDS) {
      const render = compileNotification(
        handlebars,
        source(notificationTemplatePath(locale, audience, kind)),
        audience,
      );
      for (const sample of sampleMessages(kind)) render(sample);
      notifications.set(`${audience}/${kind}`, render);
    }
  }
  const reportSource = source(`${locale}/${REPORT_FILE}`);
  const reportTemplate = handlebars.compile(reportSource.text, COMPILE_OPTIONS);
  const renderReport = (report: IncidentReport): string => {
    try {
      return tidyMarkdown(reportTemplate(reportView(report)));
    } catch (error) {
      throw new TemplateFileError(reportSource.file, error);
    }
  };
  for (const sample of sampleReports()) renderReport(sample);
  const renderNotification: NotificationRenderer = (audience, message) => {
    const render = notifications.get(`${audience}/${message.kind}`);
    if (!render) throw new Error(`no template for a ${message.kind} notification to ${audience}`);
    return render(message);
  };
  return { renderNotification, renderReport };
}

/**
 * Loads, compiles and tries every template of the configured language, the operator's replacing the shipped ones. A
 * broken template stops here with its file named, before any incident needs it. Operator files for the other language
 * are checked for their paths only: compiling Handlebars costs about 15 ms a template.
 *
 * @example const templates = loadMessageTemplates({ locale: 'fr', timeZone: 'Europe/Paris', templatesDir });
 */
export function loadMessageTemplates(settings: TemplateSettings): MessageTemplates {
  const shippedDir = shippedTemplatesDir();
  if (settings.templatesDir) checkOperatorFiles(settings.templatesDir);
  return { locale: settings.locale, timeZone: settings.timeZone, ...compileLocale(shippedDir, settings) };
}
