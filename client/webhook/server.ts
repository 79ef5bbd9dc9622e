import { createHash, timingSafeEqual } from 'node:crypto';
import { Connection, type Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { findServerId, incidentInputFor } from '../../config/incident-input';
import type { MailmendConfig } from '../../config/schema';
import type { SecretResolver } from '../../config/secrets';
import { incidentWorkflowId } from '../../workflows/messages';
import { isTemporalUnavailable } from '../../platform/temporal/connection';
import { getIncidentState, IncidentNotFoundError, raiseAlert, type RaisedAlert } from '../incidents';
import {
  describeSchemaIssues,
  toAlertPayloads,
  webhookSchemas,
  type AlertSource,
  type MappedAlert,
} from './alertmanager';

export interface WebhookDeps {
  config: MailmendConfig;
  secrets: SecretResolver;
  client: Client;
  logger: Logger;
  /** How long one request may wait for Temporal to accept its alerts (or answer a query). Default 5 s. */
  signalTimeoutMs?: number;
  /** How long `/healthz` waits for Temporal. Default 1 s. */
  healthTimeoutMs?: number;
  /** Tests isolate their workflows on their own queue; production uses the default. */
  taskQueue?: string;
}

export interface AcceptedAlert {
  serverId: string;
  workflowId: string;
  runId?: string;
  delivered: RaisedAlert['delivered'];
}

/** What every error response looks like: what went wrong, and the detail a sender's operator needs. */
interface ErrorBody {
  error: string;
  reason?: string;
}

const RETRY_AFTER_SECONDS = 15;

/** Temporal did not finish within the time the sender can wait. */
class TemporalTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Temporal did not answer within ${timeoutMs} ms`);
    this.name = 'TemporalTimeoutError';
  }
}

/** The body could not be read as JSON; the reason is safe to return because it describes the sender's own bytes. */
class MalformedBodyError extends Error {
  readonly statusCode = 400;
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = 'MalformedBodyError';
  }
}

/**
 * Builds the HTTP endpoint that Alertmanager and Grafana post alerts to. Every alert becomes a signal-with-start on
 * its server's incident, and the sender gets 202 only after Temporal has durably accepted every alert in the batch, so
 * a 5xx makes the sender retry and nothing is lost.
 *
 * @example
 * const app = buildWebhookServer({ config, secrets, client, logger });
 * const url = await startWebhookServer(app, config.webhook.host, config.webhook.port);
 */
export function buildWebhookServer(deps: WebhookDeps): FastifyInstance {
  const { config, client } = deps;
  const signalTimeoutMs = deps.signalTimeoutMs ?? 5_000;
  const healthTimeoutMs = deps.healthTimeoutMs ?? 1_000;
  const logger = deps.logger.child({ component: 'webhook' });
  const expectedTokenDigest = config.webhook.bearerToken
    ? sha256(deps.secrets.resolve(config.webhook.bearerToken))
    : undefined;

  const app = Fastify({ bodyLimit: config.webhook.bodyLimitBytes, logger: false });

  // The SDK's retry interceptor can overrun a gRPC deadline by a whole backoff interval, and a retry that fires after
  // the connection closed throws from a timer. So the sender gets its answer at the deadline, and closing the app
  // waits for the calls still backing off.
  const lateCalls = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...lateCalls]);
  });
  const withinDeadline = async <T>(timeoutMs: number, call: () => Promise<T>): Promise<T> => {
    const work = client.connection.withDeadline(Date.now() + timeoutMs, call);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TemporalTimeoutError(timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
      const settled: Promise<unknown> = work.catch(() => undefined).finally(() => lateCalls.delete(settled));
      lateCalls.add(settled);
    }
  };

  // Senders differ in the content type they claim, so every body is read as JSON, with our own reason when it is not.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(new MalformedBodyError('the body is empty, expected JSON'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text, dropPrototypeKeys));
    } catch (error) {
      done(
        new MalformedBodyError(`the body is not valid JSON: ${(error as Error).message}`, { cause: error }),
        undefined,
      );
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const statusCode = error.statusCode ?? 500;
    if (error instanceof MalformedBodyError) {
      logger.warn({ serverId: null, route: request.url, reason: error.message }, 'malformed alert body');
      return reply.code(400).send({ error: 'malformed JSON', reason: error.message } satisfies ErrorBody);
    }
    if (statusCode === 413) {
      logger.warn({ serverId: null, route: request.url, limit: config.webhook.bodyLimitBytes }, 'alert body too large');
      return reply.code(413).send({
        error: 'body too large',
        reason: `limit is ${config.webhook.bodyLimitBytes} bytes`,
      } satisfies ErrorBody);
    }
    if (statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send({ error: error.message } satisfies ErrorBody);
    }
    logger.error({ serverId: null, route: request.url, err: error }, 'webhook request failed');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  });

  const requireBearerToken = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!expectedTokenDigest) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Comparing digests keeps the comparison constant-time even when the lengths differ.
    if (match?.[1] && timingSafeEqual(sha256(match[1].trim()), expectedTokenDigest)) return;
    logger.warn({ serverId: null, route: request.url, tokenPresent: header !== '' }, 'alert refused: bad bearer token');
    await reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer')
      .send({ error: 'unauthorized', reason: 'a valid bearer token is required' } satisfies ErrorBody);
  };

  const acceptAlerts = async (source: AlertSource, request: FastifyRequest, reply: FastifyReply) => {
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
    const unknown = mapped.filter(
      ({ serverLabelValue }) => !serverLabelValue || !findServerId(config, serverLabelValue),
    );
    if (unknown.length > 0) {
      const reason = unknown.map((item) => describeUnknownServer(item, serverLabel)).join('; ');
      logger.warn({ serverId: null, source, reason }, 'alerts refused: no configured server');
      return reply.code(422).send({ error: 'alert names no configured mail server', reason } satisfies ErrorBody);
    }

    try {
      const accepted = await withinDeadline(signalTimeoutMs, () =>
        signalInOrderPerServer(mapped, async ({ alert }, serverId) => {
          const raised = await raiseAlert(client, incidentInputFor(config, serverId), alert, {
            taskQueue: deps.taskQueue,
          });
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
        }),
      );
      return reply.code(202).send({ accepted });
    } catch (error) {
      const serverIds = [...new Set(mapped.map(({ serverLabelValue }) => resolveServer(serverLabelValue)))];
      return replyTemporalFailure(reply, error, { serverId: serverIds.join(','), source }, signalTimeoutMs);
    }
  };

  const resolveServer = (labelValue: string | undefined): string =>
    (labelValue && findServerId(config, labelValue)) || '';

  /** Alerts for one server are signalled one after another so the timeline keeps the sender's order. */
  const signalInOrderPerServer = async (
    alerts: MappedAlert[],
    signal: (item: MappedAlert, serverId: string) => Promise<AcceptedAlert>,
  ): Promise<AcceptedAlert[]> => {
    const results: AcceptedAlert[] = new Array<AcceptedAlert>(alerts.length);
    const byServer = new Map<string, number[]>();
    alerts.forEach(({ serverLabelValue }, index) => {
      const serverId = resolveServer(serverLabelValue);
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
  };

  const replyTemporalFailure = (
    reply: FastifyReply,
    error: unknown,
    context: { serverId: string; incidentId?: string; source?: string },
    timeoutMs: number,
  ) => {
    if (error instanceof TemporalTimeoutError || isTemporalUnavailable(error)) {
      logger.warn({ ...context, err: error }, 'Temporal is unavailable');
      return reply
        .code(503)
        .header('Retry-After', String(RETRY_AFTER_SECONDS))
        .send({
          error: 'Temporal is unavailable',
          reason: `Temporal did not answer within ${timeoutMs} ms`,
        } satisfies ErrorBody);
    }
    logger.error({ ...context, err: error }, 'Temporal call failed');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  };

  app.post('/alerts/alertmanager', { onRequest: requireBearerToken }, (request, reply) =>
    acceptAlerts('alertmanager', request, reply),
  );
  app.post('/alerts/grafana', { onRequest: requireBearerToken }, (request, reply) =>
    acceptAlerts('grafana', request, reply),
  );

  app.get('/healthz', async () => {
    let temporal: 'up' | 'down' = 'down';
    try {
      await withinDeadline(healthTimeoutMs, async () => {
        const connection = client.connection;
        if (connection instanceof Connection) {
          const { status } = await connection.healthService.check({});
          // 1 is SERVING in grpc.health.v1.
          if (status === 1) temporal = 'up';
        } else {
          await client.workflowService.getSystemInfo({});
          temporal = 'up';
        }
      });
    } catch (error) {
      logger.debug({ serverId: null, err: error }, 'Temporal health check failed');
    }
    return { ok: true, temporal };
  });

  app.get<{ Params: { serverId: string } }>('/incidents/:serverId', async (request, reply) => {
    const requested = request.params.serverId;
    const serverId = findServerId(config, requested);
    if (!serverId) {
      logger.warn({ serverId: requested }, 'state requested for an unknown server');
      return reply
        .code(422)
        .send({ error: 'no such mail server', reason: `"${requested}" is not in the config` } satisfies ErrorBody);
    }
    const incidentId = incidentWorkflowId(serverId);
    try {
      const state = await withinDeadline(signalTimeoutMs, () => getIncidentState(client, serverId));
      return reply.code(200).send(state);
    } catch (error) {
      if (error instanceof IncidentNotFoundError) {
        logger.info({ serverId, incidentId }, 'state requested, no incident');
        return reply.code(404).send({ error: 'no incident', reason: error.message } satisfies ErrorBody);
      }
      return replyTemporalFailure(reply, error, { serverId, incidentId }, signalTimeoutMs);
    }
  });

  return app;
}

/**
 * Listens on `host:port` and resolves with the URL it serves, e.g. `http://127.0.0.1:8080`.
 *
 * @example const url = await startWebhookServer(app, '127.0.0.1', 0);
 */
export async function startWebhookServer(app: FastifyInstance, host: string, port: number): Promise<string> {
  return app.listen({ host, port });
}

function describeUnknownServer({ serverLabelValue, alert }: MappedAlert, serverLabel: string): string {
  return serverLabelValue
    ? `alert ${alert.alertName}: ${serverLabel}="${serverLabelValue}" names no configured server`
    : `alert ${alert.alertName} has no "${serverLabel}" label`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}
