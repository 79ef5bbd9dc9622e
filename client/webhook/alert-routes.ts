import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findServerId, incidentInputFor } from '../../config/incident-input';
import type { MailmendConfig } from '../../config/schema';
import { raiseAlert, type RaisedAlert } from '../incidents';
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
    return reply.code(400).send({ error: 'malformed JSON', reason: 'the body is empty, expected JSON' });
  }
  const parsed = webhookSchemas[source].safeParse(request.body);
  if (!parsed.success) {
    const reason = describeSchemaIssues(parsed.error);
    logger.warn({ serverId: null, source, reason }, 'alert body does not match the schema');
    return reply.code(400).send({ error: `not a ${source} webhook payload`, reason } satisfies ErrorBody);
  }
  const serverLabel = config.webhook.serverLabel;
  const mapped = toAlertPayloads(parsed.data, { source, serverLabel });
  const isKnown = ({ serverLabelValue }: MappedAlert) => !!serverLabelValue && !!findServerId(config, serverLabelValue);
  const refused: RefusedAlert[] = mapped
    .filter((item) => !isKnown(item))
    .map((item) => ({ alertName: item.alert.alertName, reason: describeUnknownServer(item, serverLabel) }));
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

/** 202 only once Temporal holds every alert of the batch; 503 when Temporal does not answer, so the sender retries. */
async function signalAlerts(
  context: WebhookContext,
  source: AlertSource,
  mapped: MappedAlert[],
  refused: RefusedAlert[],
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { config, signalTimeoutMs } = context;
  try {
    const accepted = await context.withinDeadline(signalTimeoutMs, () =>
      signalInOrderPerServer(config, mapped, (item, serverId) => signalAlert(context, source, item, serverId)),
    );
    return reply.code(202).send(refused.length > 0 ? { accepted, refused } : { accepted });
  } catch (error) {
    const serverIds = [...new Set(mapped.map(({ serverLabelValue }) => resolveServer(config, serverLabelValue)))];
    return replyTemporalFailure(
      reply,
      context.logger,
      error,
      { serverId: serverIds.join(','), source },
      signalTimeoutMs,
    );
  }
}

/** Signal-with-start on the server's incident, so the first alert opens it. */
async function signalAlert(
  { config, client, logger, taskQueue }: WebhookContext,
  source: AlertSource,
  { alert }: MappedAlert,
  serverId: string,
): Promise<AcceptedAlert> {
  const raised = await raiseAlert(client, incidentInputFor(config, serverId), alert, { taskQueue });
  logger.info(
    {
      serverId,
      incidentId: raised.workflowId,
      source,
      alertName: alert.alertName,
      status: alert.status,
      fingerprint: alert.fingerprint,
    },
    'alert signalled',
  );
  logger.debug({ serverId, incidentId: raised.workflowId, labels: alert.labels }, 'alert labels');
  return { serverId, ...raised };
}

/** Alerts for one server are signalled one after another so the timeline keeps the sender's order. */
async function signalInOrderPerServer(
  config: MailmendConfig,
  alerts: MappedAlert[],
  signal: (item: MappedAlert, serverId: string) => Promise<AcceptedAlert>,
): Promise<AcceptedAlert[]> {
  const results: AcceptedAlert[] = new Array<AcceptedAlert>(alerts.length);
  const byServer = new Map<string, number[]>();
  alerts.forEach(({ serverLabelValue }, index) => {
    const serverId = resolveServer(config, serverLabelValue);
    byServer.set(serverId, [...(byServer.get(serverId) ?? []), index]);
  });
  await Promise.all(
    [...byServer].map(async ([serverId, indexes]) => {
      for (const index of indexes) {
        const item = alerts[index];
        if (item) results[index] = await signal(item, serverId);
      }
    }),
  );
  return results;
}

function resolveServer(config: MailmendConfig, labelValue: string | undefined): string {
  return (labelValue && findServerId(config, labelValue)) || '';
}

function describeUnknownServer({ serverLabelValue, alert }: MappedAlert, serverLabel: string): string {
  return serverLabelValue
    ? `alert ${alert.alertName}: ${serverLabel}="${serverLabelValue}" names no configured server`
    : `alert ${alert.alertName} has no "${serverLabel}" label`;
}
