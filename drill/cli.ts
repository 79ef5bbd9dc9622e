import { Argument, InvalidArgumentError, type Command } from 'commander';
import { runDrill } from './run-drill';
import { LAB_SCENARIOS, type LabScenario } from '../lab';
import type { CliDeps } from '../client/cli/deps';

interface DrillCommandOptions {
  stateDir: string;
  webhookUrl: string;
  serverId?: string;
  tokenEnv?: string;
  inboxPort: number;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number');
  return port;
}

/** `mailmend drill <scenario>`: the newcomer's rehearsal of the whole procedure on the lab. */
export function registerDrillCommand(program: Command, deps: CliDeps): void {
  program
    .command('drill')
    .description('rehearse an outage: bring the lab up, break it, alert the running mailmend, and follow the incident')
    .addArgument(new Argument('<scenario>', 'what to break').choices(LAB_SCENARIOS))
    .option('--state-dir <dir>', 'the lab state directory', '.mailmend/lab')
    .option('--webhook-url <url>', "the running mailmend's webhook", 'http://127.0.0.1:8080')
    .option('--server-id <id>', "the server id the alert names (default: the lab's)")
    .option('--token-env <name>', 'environment variable holding the webhook bearer token, if one is configured')
    .option(
      '--inbox-port <port>',
      'local inbox that mailmend.lab.yaml sends notifications to (0: none)',
      parsePort,
      2527,
    )
    .action(async (scenario: LabScenario, options: DrillCommandOptions) => {
      const session = await deps.connect();
      try {
        const bearerToken = options.tokenEnv ? process.env[options.tokenEnv] : undefined;
        const final = await runDrill(
          {
            scenario,
            stateDir: options.stateDir,
            webhookUrl: options.webhookUrl,
            inboxPort: options.inboxPort,
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
