import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeSchemaIssue } from '../../platform/schema-issues';
import {
  PHASES,
  type AudienceName,
  type EscalationCause,
  type NotificationKind,
  type Risk,
  type Scope,
  type Severity,
} from '../../workflows/messages';

/** Records keyed by every value of a union, so adding a value to the union without its phrase fails to compile. */
const SEVERITIES: Record<Severity, true> = { critical: true, major: true, minor: true, none: true };
const SCOPES: Record<Scope, true> = {
  'all-users': true,
  'one-protocol': true,
  'single-user': true,
  'delivery-delayed': true,
  unknown: true,
  none: true,
};
const RISKS: Record<Risk, true> = { low: true, medium: true, high: true };
const KINDS: Record<NotificationKind, true> = {
  outage: true,
  update: true,
  escalation: true,
  resolved: true,
  'false-alarm': true,
  reminder: true,
  'certificate-expiry': true,
  closed: true,
};
const AUDIENCE_NAMES: Record<AudienceName, true> = { itTeam: true, management: true, users: true };
const ESCALATION_CAUSES: Record<EscalationCause, true> = {
  'approval-timeout': true,
  rejected: true,
  'verification-failed': true,
  'no-automatic-fix': true,
  'remediation-unavailable': true,
  'remediation-interrupted': true,
  'host-unreachable': true,
  'assessment-incomplete': true,
  'notification-failed': true,
  'unexpected-failure': true,
};

function section(keys: readonly string[]) {
  return z.strictObject(Object.fromEntries(keys.map((key) => [key, z.string().min(1)])));
}

const keysOf = (record: Record<string, true>) => Object.keys(record);

/** Failure classes are open-ended (operators add signatures), so only the fallback `other` must be there. */
const causeClassSection = z.record(z.string(), z.string().min(1)).refine((phrases) => 'other' in phrases, {
  message: 'needs an "other" phrase for failure classes without their own',
});

const phrasesSchema = z.strictObject({
  severity: section(keysOf(SEVERITIES)),
  scope: section(keysOf(SCOPES)),
  usersImpact: section(keysOf(SCOPES)),
  usersMeanwhile: section(keysOf(SCOPES)),
  businessImpact: section(keysOf(SCOPES)),
  phase: section(PHASES),
  risk: section(keysOf(RISKS)),
  kind: section(keysOf(KINDS)),
  audience: section(keysOf(AUDIENCE_NAMES)),
  causeClass: causeClassSection,
  escalation: section(keysOf(ESCALATION_CAUSES)),
  reportStep: section(['detect', 'acknowledge', 'approve', 'resolve']),
  daysLeft: section(['zero', 'one', 'other']),
});

export type Phrases = Record<string, Record<string, string>>;

const overrideSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** Parses a phrases.yaml; an operator's file may hold any subset of entries, which replace the shipped ones. */
export function parsePhrases(text: string): Phrases {
  const parsed = overrideSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) throw new Error(parsed.error.issues.map(describeSchemaIssue).join('; '));
  return parsed.data;
}

/** The shipped phrases with the operator's entries laid over them, checked to hold every phrase the templates use. */
export function mergePhrases(shipped: Phrases, override: Phrases = {}): Phrases {
  const merged: Phrases = { ...shipped };
  for (const [name, entries] of Object.entries(override)) merged[name] = { ...(shipped[name] ?? {}), ...entries };
  const checked = phrasesSchema.safeParse(merged);
  if (!checked.success) throw new Error(checked.error.issues.map(describeSchemaIssue).join('; '));
  return merged;
}

/** The phrase for one value, or the section's `other` for a value it does not list. */
export function lookUpPhrase(phrases: Phrases, sectionName: string, key: string): string {
  const entries = phrases[sectionName];
  if (!entries) throw new Error(`no phrase section "${sectionName}"`);
  const phrase = entries[key] ?? entries.other;
  if (phrase === undefined) throw new Error(`no phrase for "${key}" in section "${sectionName}"`);
  return phrase;
}
