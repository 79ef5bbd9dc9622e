import { createHash } from 'node:crypto';
import { alertmanagerPayload, type AlertmanagerWebhook } from '../client/webhook/alertmanager';

/** What one mail server's rules raise when it goes down: each (name, instance) is one alert, one fingerprint. */
const RULES = [
  'SmtpDown',
  'SmtpBannerMissing',
  'SubmissionDown',
  'ImapDown',
  'ImapLoginFailing',
  'DeferredQueueGrowing',
  'DeliveryLatencyHigh',
  'CanaryRoundTripFailing',
  'PostfixMasterMissing',
  'MailLogErrorsHigh',
] as const;
const INSTANCES = ['exporter', 'blackbox'] as const;
/** Every fourth alert flaps: a blackbox probe that passes now and then, resolving the alert until the next miss. */
const FLAPPING_EVERY = 4;

interface StormAlert {
  labels: Record<string, string>;
  fingerprint: string;
  flapping: boolean;
}

/** Twenty distinct alerts for `serverId`, five of them flapping, with Alertmanager-like fingerprints. */
export function stormAlertSet(serverId: string): StormAlert[] {
  return RULES.flatMap((alertname) => INSTANCES.map((instance) => ({ alertname, instance }))).map(
    ({ alertname, instance }, index) => {
      const labels = { alertname, server: serverId, instance: `${serverId}:${instance}`, severity: 'critical' };
      return { labels, fingerprint: fingerprintOf(labels), flapping: index % FLAPPING_EVERY === 0 };
    },
  );
}

/**
 * `count` webhook bodies, one alert each, as Alertmanager resends them during an outage: the alerts in turn, each
 * resent many times, a flapping one alternating firing and resolved.
 *
 * @example const bodies = stormBodies('mx1', 10_000); // bodies[20] is the second resend of bodies[0]'s alert
 */
export function stormBodies(serverId: string, count: number): AlertmanagerWebhook[] {
  const alerts = stormAlertSet(serverId);
  return Array.from({ length: count }, (_, index) => {
    const alert = alerts[index % alerts.length] as StormAlert;
    const resend = Math.floor(index / alerts.length);
    const status = alert.flapping && resend % 2 === 1 ? 'resolved' : 'firing';
    return alertmanagerPayload({
      labels: alert.labels,
      annotations: { summary: `${alert.labels.alertname} on ${alert.labels.instance}` },
      status,
      fingerprint: alert.fingerprint,
    });
  });
}

/** Alertmanager fingerprints a label set as 16 hex digits; the bench needs only stable and distinct. */
export function fingerprintOf(labels: Record<string, string>): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}
