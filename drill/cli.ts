import { Argument, InvalidArgumentError, type Command } from 'commander';
import { TemporalUnreachableError } from '../platform/temporal/connection';
import { MailmendNotAnsweringError, runDrill } from './run-drill';
import { LAB_SCENARIOS, type LabScenario } from '../lab';
import type { CliDeps, TemporalSession } from '../client/cli/deps';

interface DrillCommandOptions {
  stateDir: string;
  webhookUrl: string;
  uiUrl: string;
  serverId?: string;
  tokenEnv?: string;
  inboxPort: number;
  join?: boolean;
  showMessages?: boolean;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number');
  return port;
}

/** The drill needs Temporal before it touches the lab; when it is not there, say what to start. */
async function connectOrExplain(deps: CliDeps): Promise<TemporalSession> {
  try {
    return await deps.connect();
  } catch (error) {
    if (!(error instanceof TemporalUnreachableError)) throw error;
    throw new MailmendNotAnsweringError(error.message, { cause: error });
  }
}

/** `mailmend drill <scenario>`: the newcomer's rehearsal of the whole procedure on the lab. */
export function registerDrillCommand(program: Command, deps: CliDeps): void {
  program
    .command('drill')
    .description('rehearse an outage: bring the lab up, break it, alert the running mailmend, and follow the incident')
    .addArgument(new Argument('<scenario>', 'what to break').choices(LAB_SCENARIOS))
    .option('--state-dir <dir>', 'the lab state directory', '.mailmend/lab')
    .option('--webhook-url <url>', "the running mailmend's webhook", 'http://127.0.0.1:8080')
    .option('--ui-url <url>', 'the Temporal Web UI, for the link to the incident', 'http://127.0.0.1:8233')
    .option('--server-id <id>', "the server id the alert names (default: the lab's)")
    .option('--token-env <name>', 'environment variable holding the webhook bearer token, if one is configured')
    .option(
      '--inbox-port <port>',
      'local inbox that mailmend.lab.yaml sends notifications to (0: none)',
      parsePort,
      2527,
    )
    .option('--show-messages', 'print the whole text each audience is sent, not only its subject')
    .option('--join', 'follow an incident already open for the server instead of refusing to start')
    .action(async (scenario: LabScenario, options: DrillCommandOptions) => {
      const session = await connectOrExplain(deps);
      try {
        const bearerToken = options.tokenEnv ? process.env[options.tokenEnv] : undefined;
        const final = await runDrill(
          {
            scenario,
            stateDir: options.stateDir,
            webhookUrl: options.webhookUrl,
            uiUrl: options.uiUrl,
            inboxPort: options.inboxPort,
            ...(options.showMessages ? { showMessages: true } : {}),
            ...(options.join ? { join: true } : {}),
            ...(options.serverId ? { serverId: options.serverId } : {}),
            ...(bearerToken ? { bearerToken } : {}),
          },
          { client: session.client, temporalAddress: session.address, out: (line) => deps.stdout(`${line}\n`) },
        );
        if (final.outcome !== 'closed') {
          throw new Error(
            `the drill ended ${final.outcome ?? final.phase}: ${final.outcomeReason ?? 'no reason given'}`,
          );
        }
      } finally {
        await session.close();
      }
    });
}
