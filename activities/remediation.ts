import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import type { CommandRecord, RemediationResult } from '../workflows/messages';
import { stepLogger } from './logging';
import { requireServer } from './servers';
import { findCatalogAction, type CatalogAction } from './remediation-catalog';
import type { RunRemediationInput } from '../workflows/activity-contract';

export interface ActionOutcome {
  exitCode: number;
  output: string;
  alreadyApplied: boolean;
  snapshot?: CommandRecord[];
  commands?: CommandRecord[];
}

/** Runs a catalog action on a mail host; the SSH implementation pins host keys and checks idempotency. */
export interface RemediationExecutor {
  runAction(server: ServerConfig, action: CatalogAction, onProgress: () => void): Promise<ActionOutcome>;
}

export interface RemediationDeps {
  servers: ReadonlyMap<string, ServerConfig>;
  remediationExecutor: RemediationExecutor;
  logger: Logger;
}

const MAX_OUTPUT_CHARS = 2_000;

export function createRemediationActivities(deps: RemediationDeps) {
  return {
    /** Runs one approved catalog action; an id outside the catalog is refused before anything runs. */
    async runRemediation({ context, actionId }: RunRemediationInput): Promise<RemediationResult> {
      const logger = stepLogger(deps.logger, context);
      const action = findCatalogAction(actionId);
      if (!action) {
        logger.warn({ actionId }, 'refused an action outside the remediation catalog');
        throw ApplicationFailure.create({
          type: FailureType.UnknownRemediationAction,
          nonRetryable: true,
          message: `"${actionId}" is not in the remediation catalog`,
        });
      }
      const server = requireServer(deps.servers, context.serverId);
      logger.info({ actionId }, 'running remediation');
      const outcome = await deps.remediationExecutor.runAction(server, action, () => heartbeat(actionId));
      logger.info({ actionId, exitCode: outcome.exitCode, alreadyApplied: outcome.alreadyApplied }, 'remediation ran');
      return {
        actionId,
        exitCode: outcome.exitCode,
        output: outcome.output.trim().slice(-MAX_OUTPUT_CHARS),
        alreadyApplied: outcome.alreadyApplied,
        ...(outcome.snapshot ? { snapshot: outcome.snapshot } : {}),
        ...(outcome.commands ? { commands: outcome.commands } : {}),
        finishedAt: new Date().toISOString(),
      };
    },
  };
}
