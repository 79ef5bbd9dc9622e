import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ReportLocation } from '../workflows/messages';
import { stepLogger } from './logging';
import type { MessageTemplates } from './templates/catalog';
import type { WriteIncidentReportInput } from '../workflows/activity-contract';

export interface ReportDeps {
  reportsDir: string;
  /** The report's wording, in the configured language and time zone. */
  templates: Pick<MessageTemplates, 'renderReport'>;
  logger: Logger;
}

/** `2024-05-01T12:34:56.789Z` becomes `20240501T123456Z`, which sorts by time and is safe in any file system. */
function compactTimestamp(iso: string): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) throw new RangeError(`"${iso}" is not an ISO-8601 timestamp`);
  return time
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The report's file name without extension; an incident id never reaches the file system unfiltered. */
function reportBaseName(incidentId: string, openedAt: string): string {
  return `${incidentId.replace(/[^A-Za-z0-9._-]/g, '_')}-${compactTimestamp(openedAt)}`;
}

/** Writes beside the target, then renames: a reader or a retried attempt never sees half a file. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, content, 'utf8');
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function createReportActivities(deps: ReportDeps) {
  return {
    /** SOP step 7: keeps the review as Markdown for people and JSON for tools. Same paths on every attempt. */
    async writeIncidentReport(input: WriteIncidentReportInput): Promise<ReportLocation> {
      const log = stepLogger(deps.logger, input.context);
      const { state } = input.report;
      const baseName = reportBaseName(state.incidentId, state.openedAt);
      const location: ReportLocation = {
        markdownPath: path.join(deps.reportsDir, `${baseName}.md`),
        jsonPath: path.join(deps.reportsDir, `${baseName}.json`),
      };
      await mkdir(deps.reportsDir, { recursive: true });
      await writeAtomically(location.jsonPath, `${JSON.stringify(input.report, null, 2)}\n`);
      await writeAtomically(location.markdownPath, deps.templates.renderReport(input.report));
      log.info(location, 'incident report written');
      return location;
    },
  };
}
