import { Context, heartbeat } from '@temporalio/activity';
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

/** Runs a catalog action on a mail host; the SSH implementation pins host keys and skips an effect already in place. */
export interface RemediationExecutor {
  runAction(server: ServerConfig, action: CatalogAction, onProgress: () => void): Promise<ActionOutcome>;
}

export interface RemediationDeps {
  servers: ReadonlyMap<string, ServerConfig>;
  remediationExecutor: RemediationExecutor;
  logger: Logger;
}

const MAX_OUTPUT_CHARS = 2_000;

function refuseUnknownAction(actionId: string, logger: Logger): never {
  logger.warn({ actionId }, 'refused an action outside the remediation catalog');
  throw ApplicationFailure.create({
    type: FailureType.UnknownRemediationAction,
    nonRetryable: true,
    message: `"${actionId}" is not in the remediation catalog`,
  });
}

// The remediation group retries once, so that another worker takes over a fix whose worker was lost. An idempotent
// action checks what is already in effect; the first attempt of a restart or a flush may have run before it failed,
// so only a person, through a new approval, may run it again.
function refuseRetryOfRepeatingAction(action: CatalogAction, attempt: number, logger: Logger): void {
  if (action.idempotent || attempt <= 1) return;
  logger.warn({ actionId: action.id, attempt }, 'refused to retry an action that is not idempotent');
  throw ApplicationFailure.create({
    type: FailureType.RemediationNotRetried,
    nonRetryable: true,
    message: `"${action.id}" is not idempotent and attempt ${attempt - 1} may already have run it; it is not retried`,
  });
}

/**
 * A failure this attempt saw and reported (SSH refused, a step's error) is final for an action that is not idempotent:
 * the group's one retry is for a worker lost mid-fix, and would here only be refused as if the worker had been lost.
 */
function notRetried(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure && error.nonRetryable) return error;
  const type = error instanceof ApplicationFailure ? error.type : error instanceof Error ? error.name : undefined;
  return ApplicationFailure.create({
    type: type ?? FailureType.RemediationFailed,
    message: error instanceof Error ? error.message : String(error),
    nonRetryable: true,
    cause: error instanceof Error ? error : undefined,
  });
}

export function createRemediationActivities(deps: RemediationDeps) {
  return {
    /**
     * Runs one approved catalog action. An id outside the catalog is refused before anything runs, and so is a retry
     * of an action that is not idempotent; an idempotent action skips what is already in effect.
     */
    async runRemediation({ context, actionId }: RunRemediationInput): Promise<RemediationResult> {
      const logger = stepLogger(deps.logger, context);
      const action = findCatalogAction(actionId) ?? refuseUnknownAction(actionId, logger);
      refuseRetryOfRepeatingAction(action, Context.current().info.attempt, logger);
      const server = requireServer(deps.servers, context.serverId);
      logger.info({ actionId, idempotent: action.idempotent }, 'running remediation');
      const outcome = await deps.remediationExecutor
        .runAction(server, action, () => heartbeat(actionId))
        .catch((error: unknown) => {
          throw action.idempotent ? error : notRetried(error);
        });
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
