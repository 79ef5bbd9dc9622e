import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findServerId } from '../../config/incident-input';
import type { MailmendConfig } from '../../config/schema';
import { closestName } from '../../platform/closest-name';
import type { AlertPayload } from '../../workflows/messages';
import type { RaisedAlert } from '../incidents';
import {
  describeSchemaIssues,
  toAlertPayloads,
  webhookSchemas,
  type AlertSource,
  type MappedAlert,
} from './alertmanager';
import type { RequestGate } from './bearer-token';
import type { WebhookContext } from './context';
import type { ErrorBody } from './error-replies';
import { replyTemporalFailure } from './error-replies';

export interface AcceptedAlert {
  serverId: string;
  workflowId: string;
  runId?: string;
  delivered: RaisedAlert['delivered'];
  /** Not signalled: an identical alert was, within the collapse window. */
  collapsed?: boolean;
}

/** `POST /alerts/alertmanager` and `POST /alerts/grafana`, both behind the bearer token. */
export function registerAlertRoutes(app: FastifyInstance, context: WebhookContext, authorize: RequestGate): void {
  app.post('/alerts/alertmanager', { onRequest: authorize }, (request, reply) =>
    acceptAlerts(context, 'alertmanager', request, reply),
  );
  app.post('/alerts/grafana', { onRequest: authorize }, (request, reply) =>
    acceptAlerts(context, 'grafana', request, reply),
  );
}

/**
 * A body that is not the source's payload gets 400. An alert for an unknown server is logged and refused, never
 * bounced with the rest of its batch: Alertmanager drops a batch that gets a 4xx, valid alerts included. Only a batch
 * with no alert for a configured server gets 422, since no retry can fix it.
 */
async function acceptAlerts(
  context: WebhookContext,
  source: AlertSource,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { config, logger } = context;
  if (request.body === undefined) {
    context.metrics.alertsRefused.inc({ source, reason: 'malformed-body' });
    return reply.code(400).send({ error: 'malformed JSON', reason: 'the body is empty, expected JSON' });
  }
  const parsed = webhookSchemas[source].safeParse(request.body);
  if (!parsed.success) {
    context.metrics.alertsRefused.inc({ source, reason: 'malformed-body' });
    const reason = describeSchemaIssues(parsed.error);
    logger.warn({ serverId: null, source, reason }, 'alert body does not match the schema');
    return reply.code(400).send({ error: `not a ${source} webhook payload`, reason } satisfies ErrorBody);
  }
  const serverLabel = config.webhook.serverLabel;
  const mapped = toAlertPayloads(parsed.data, { source, serverLabel });
  const isKnown = ({ serverLabelValue }: MappedAlert) => !!serverLabelValue && !!findServerId(config, serverLabelValue);
  context.metrics.alertsReceived.inc({ source }, mapped.length);
  const unknown = mapped.filter((item) => !isKnown(item));
  for (const item of unknown) {
    context.metrics.alertsRefused.inc({ source, reason: item.serverLabelValue ? 'unknown-server' : 'no-server-label' });
  }
  const refused: RefusedAlert[] = unknown.map((item) => ({
    alertName: item.alert.alertName,
    reason: describeUnknownServer(item, serverLabel, config),
  }));
  if (refused.length > 0) {
    logger.warn({ serverId: null, source, refused }, 'alerts refused: no configured server');
  }
  const known = mapped.filter(isKnown);
  if (known.length === 0) {
    const reason = refused.map((item) => item.reason).join('; ');
    return reply.code(422).send({ error: 'alert names no configured mail server', reason } satisfies ErrorBody);
  }
  return signalAlerts(context, source, known, refused, reply);
}

/** An alert of the batch that was not signalled, and why: listed in the 202 answer. */
export interface RefusedAlert {
  alertName: string;
  reason: string;
}

/**
 * 202 only once Temporal holds every alert of the batch (or an identical one signalled within the collapse window);
 * 503 when Temporal does not answer in time, so the sender retries. Each server's alerts queue in its lane, in order;
 * lanes of different servers are signalled concurrently.
 */
async function signalAlerts(
  context: WebhookContext,
  source: AlertSource,
  mapped: MappedAlert[],
  refused: RefusedAlert[],
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { config, signalTimeoutMs, logger, metrics } = context;
  const byServer = new Map<string, { index: number; alert: AlertPayload }[]>();
  mapped.forEach(({ serverLabelValue, alert }, index) => {
    const serverId = resolveServer(config, serverLabelValue);
    byServer.set(serverId, [...(byServer.get(serverId) ?? []), { index, alert }]);
  });
  const pending = new Array<Promise<AcceptedAlert>>(mapped.length);
  for (const [serverId, items] of byServer) {
    const outcomes = context.alertLanes.submit(
      serverId,
      items.map((item) => item.alert),
    );
    outcomes.forEach((outcome, position) => {
      const item = items[position];
      if (!item) return;
      pending[item.index] = outcome.then(({ raised, collapsed }) => {
        if (collapsed) metrics.alertsCollapsed.inc({ source });
        const fields = { serverId, incidentId: raised.workflowId, source, alertName: item.alert.alertName };
        if (collapsed) logger.debug(fields, 'alert collapsed into an identical one');
        else
          logger.info({ ...fields, status: item.alert.status, fingerprint: item.alert.fingerprint }, 'alert signalled');
        return { serverId, ...raised, ...(collapsed ? { collapsed } : {}) };
      });
    });
  }
  try {
    const accepted = await context.withinDeadline(signalTimeoutMs, () => Promise.all(pending));
    return reply.code(202).send(refused.length > 0 ? { accepted, refused } : { accepted });
  } catch (error) {
    return replyTemporalFailure(
      reply,
      logger,
      error,
      { serverId: [...byServer.keys()].join(','), source },
      signalTimeoutMs,
    );
  }
}

function resolveServer(config: MailmendConfig, labelValue: string | undefined): string {
  return (labelValue && findServerId(config, labelValue)) || '';
}

function describeUnknownServer(
  { serverLabelValue, alert }: MappedAlert,
  serverLabel: string,
  config: MailmendConfig,
): string {
  if (!serverLabelValue) return `alert ${alert.alertName} has no "${serverLabel}" label`;
  const names = config.servers.flatMap((server) => [server.id, ...server.aliases]);
  const meant = closestName(serverLabelValue, names);
  return `alert ${alert.alertName}: ${serverLabel}="${serverLabelValue}" names no configured server${meant ? `; did you mean "${meant}"?` : ''}`;
}
