import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeSchemaIssue } from '../../platform/schema-issues';
import { findCatalogAction, type CatalogActionId } from '../remediation-catalog';
import { HOST_PLACEHOLDERS, namedGroups, placeholderNames } from './placeholders';

/** The follow-up evidence a signature may ask for, and the values each adds for its words. */
export const GATHER_KINDS = {
  listeners: { parameter: 'port', adds: ['holder', 'holderPid'] },
  'process-state': { parameter: 'pid', adds: ['processState'] },
  disk: { parameter: 'path', adds: ['mount', 'diskUse'] },
  'largest-recent-files': { parameter: 'path', adds: ['mount', 'largestFiles'] },
  'file-status': { parameter: 'path', adds: ['fileStatus'] },
  'certificate-dates': { parameter: 'path', adds: ['certificateDates'] },
} as const;
export type GatherKind = keyof typeof GATHER_KINDS;

/**
 * What users lose when a signature's line is true, named by the step-1 check that sees it. When that check passes now,
 * the line is history (an earlier incident's, or a passing moment), and the hypothesis has that against it.
 */
export const IMPACTS = [
  'smtp-delivery',
  'mailbox-delivery',
  'imap-login',
  'smtp-tls',
  'imap-tls',
  'deferred-queue',
] as const;
export type Impact = (typeof IMPACTS)[number];

/** When a signature's catalog action fits; otherwise it hands over. */
export const ACTION_CONDITIONS = ['known-good-differs', 'path-under-mail-dirs'] as const;
export type ActionCondition = (typeof ACTION_CONDITIONS)[number];

const gatherSchema = z.strictObject({
  kind: z.enum(Object.keys(GATHER_KINDS) as [GatherKind, ...GatherKind[]]),
  port: z.string().min(1).optional(),
  pid: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
});

const signatureSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and "-"'),
  daemon: z.enum(['postfix', 'dovecot', 'system']),
  failureClass: z.string().regex(/^[a-z][a-z-]*$/, 'must be lower-case words joined by "-"'),
  /** The daemon stops, or never starts, when it logs this. */
  fatal: z.boolean().default(false),
  pattern: z.string().min(1),
  cause: z.string().min(1),
  confidence: z.number().min(0).max(1),
  impact: z.enum(IMPACTS).optional(),
  gather: z.array(gatherSchema).max(4).default([]),
  action: z.string().min(1).optional(),
  actionWhen: z.enum(ACTION_CONDITIONS).optional(),
  handover: z.string().min(1).optional(),
  suggest: z.array(z.array(z.string()).min(1)).default([]),
});

const signatureFileSchema = z.strictObject({ signatures: z.array(z.unknown()).min(1) });

export interface GatherRequestTemplate {
  kind: GatherKind;
  /** The parameter's template, e.g. `{port}` or `{queueDirectory}`. */
  parameter: string;
}

/** One known log line: what it means, how sure that is, what to look at next, and what to do about it. */
export interface Signature {
  id: string;
  daemon: 'postfix' | 'dovecot' | 'system';
  failureClass: string;
  fatal: boolean;
  pattern: RegExp;
  cause: string;
  confidence: number;
  impact?: Impact;
  gather: GatherRequestTemplate[];
  action?: CatalogActionId;
  actionWhen?: ActionCondition;
  handover?: string;
  suggest: string[][];
  /** The file it came from, for error messages and the evidence. */
  file: string;
}

/** A signature file that cannot be used: names the file, the signature and the field. */
export class SignatureFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super(`invalid signature file ${file}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`, options);
    this.name = 'SignatureFileError';
  }
}

export type SignatureCatalog = readonly Signature[];

type RawSignature = z.infer<typeof signatureSchema>;

function isCatalogActionId(id: string): id is CatalogActionId {
  return findCatalogAction(id) !== undefined;
}

function compilePattern(pattern: string, problems: string[]): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch (error) {
    problems.push(`pattern: not a regular expression: ${(error as Error).message}`);
    return undefined;
  }
}

/** Every placeholder must name a group of the pattern, a host value, or a value its gather kinds add. */
function checkPlaceholders(raw: RawSignature, groups: readonly string[], problems: string[]): void {
  const captured = new Set<string>([...groups, ...HOST_PLACEHOLDERS]);
  const gathered = new Set<string>(captured);
  for (const request of raw.gather) GATHER_KINDS[request.kind].adds.forEach((name) => gathered.add(name));
  const check = (field: string, template: string, known: ReadonlySet<string>) => {
    for (const name of placeholderNames(template)) {
      if (!known.has(name))
        problems.push(`${field}: {${name}} is neither a named group of the pattern nor a known value`);
    }
  };
  check('cause', raw.cause, gathered);
  if (raw.handover) check('handover', raw.handover, gathered);
  raw.suggest.forEach((argv, index) => argv.forEach((part) => check(`suggest[${index}]`, part, gathered)));
  raw.gather.forEach((request, index) => {
    const parameter = GATHER_KINDS[request.kind].parameter;
    const template = request[parameter];
    if (template === undefined) problems.push(`gather[${index}]: ${request.kind} needs "${parameter}"`);
    else check(`gather[${index}].${parameter}`, template, captured);
  });
}

function checkAction(raw: RawSignature, problems: string[]): CatalogActionId | undefined {
  if (!raw.action && !raw.handover) problems.push('action: give either a catalog action or a handover');
  if (raw.actionWhen && (!raw.action || !raw.handover)) {
    problems.push('actionWhen: needs both an action and a handover for when the condition does not hold');
  }
  if (raw.action === undefined) return undefined;
  if (isCatalogActionId(raw.action)) return raw.action;
  problems.push(`action: "${raw.action}" is not in the remediation catalog`);
  return undefined;
}

function toSignature(entry: unknown, file: string, index: number): Signature | string[] {
  const id = (entry as { id?: unknown } | null)?.id;
  const where = `signatures[${index}]${typeof id === 'string' ? ` (${id})` : ''}`;
  const parsed = signatureSchema.safeParse(entry);
  if (!parsed.success) return parsed.error.issues.map((issue) => `${where}.${describeSchemaIssue(issue)}`);
  const raw = parsed.data;
  const problems: string[] = [];
  const pattern = compilePattern(raw.pattern, problems);
  if (pattern) checkPlaceholders(raw, namedGroups(pattern), problems);
  const action = checkAction(raw, problems);
  if (problems.length > 0 || !pattern) return problems.map((problem) => `signature "${raw.id}": ${problem}`);
  const gather = raw.gather.map((request) => ({
    kind: request.kind,
    parameter: request[GATHER_KINDS[request.kind].parameter] ?? '',
  }));
  return { ...raw, pattern, gather, file, action };
}

/**
 * Reads one signature file and checks every signature in it, or throws a SignatureFileError listing each problem by
 * file, signature id and field.
 */
export function loadSignatureFile(file: string): Signature[] {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new SignatureFileError(file, [`cannot read it as YAML: ${reason}`], { cause: error });
  }
  const parsed = signatureFileSchema.safeParse(document);
  if (!parsed.success) throw new SignatureFileError(file, parsed.error.issues.map(describeSchemaIssue));
  const signatures: Signature[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  parsed.data.signatures.forEach((entry, index) => {
    const result = toSignature(entry, file, index);
    if (!Array.isArray(result)) {
      if (seen.has(result.id)) problems.push(`signature "${result.id}": id: appears twice in this file`);
      seen.add(result.id);
      signatures.push(result);
    } else problems.push(...result);
  });
  if (problems.length > 0) throw new SignatureFileError(file, problems);
  return signatures;
}

/**
 * The signature files shipped with mailmend. tsc does not copy YAML, so the compiled module, one level deeper under
 * dist/, reads them from the source tree.
 */
export function shippedSignatureFiles(): string[] {
  const candidates = [__dirname, path.resolve(__dirname, '..', '..', '..', 'activities', 'signatures')];
  for (const directory of candidates) {
    let names: string[];
    try {
      names = readdirSync(directory).filter((name) => name.endsWith('.yaml'));
    } catch {
      continue;
    }
    if (names.length > 0) return names.sort().map((name) => path.join(directory, name));
  }
  throw new Error(`no shipped signature files next to ${__dirname}`);
}

/**
 * The shipped signatures, then each operator file in order. An operator signature with a shipped id replaces the
 * shipped one; the same id in two operator files is an error.
 *
 * @example const catalog = loadSignatureCatalog(config.signatureFiles.map((file) => path.resolve(baseDir, file)));
 */
export function loadSignatureCatalog(operatorFiles: readonly string[] = []): SignatureCatalog {
  const catalog = new Map<string, Signature>();
  for (const file of shippedSignatureFiles()) {
    for (const signature of loadSignatureFile(file)) catalog.set(signature.id, signature);
  }
  const operatorIds = new Map<string, string>();
  for (const file of operatorFiles) {
    const signatures = loadSignatureFile(file);
    const problems = signatures
      .filter((signature) => operatorIds.has(signature.id))
      .map((signature) => `signature "${signature.id}": id: already defined in ${operatorIds.get(signature.id)}`);
    if (problems.length > 0) throw new SignatureFileError(file, problems);
    for (const signature of signatures) {
      operatorIds.set(signature.id, file);
      catalog.set(signature.id, signature);
    }
  }
  return [...catalog.values()];
}
