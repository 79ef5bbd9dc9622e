import { createInterface } from 'node:readline/promises';
import { Argument, InvalidArgumentError, type Command } from 'commander';
import { textTable } from '../platform/text-table';
import {
  DEFAULT_LAB_PORTS,
  LAB_INSTALL_COMMAND,
  LAB_SCENARIOS,
  LAB_SCENARIO_SUMMARIES,
  LabPrerequisiteError,
  installLabPrerequisites,
  labBreak,
  labDown,
  labHeal,
  labRelay,
  labStatus,
  labUp,
  type LabInfo,
  type LabScenario,
  type LabStatus,
  type LabUpOptions,
  type ServiceState,
} from './index';

const DEFAULT_STATE_DIR = '.mailmend/lab';

interface StateDirOption {
  stateDir: string;
}

/** What the lab commands touch outside the process; the CLI's own deps satisfy it. */
interface LabCliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Asks the operator a yes/no question. Without it the lab asks on the terminal, and only as root, since installing
   * packages needs root; without a terminal it never asks.
   */
  confirm?: (question: string) => Promise<boolean>;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('must be a port number');
  return port;
}

async function askOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await terminal.question(question)).trim());
  } finally {
    terminal.close();
  }
}

function confirmer(deps: LabCliDeps): ((question: string) => Promise<boolean>) | undefined {
  if (deps.confirm) return deps.confirm;
  return process.stdin.isTTY && process.getuid?.() === 0 ? askOnTerminal : undefined;
}

function renderLabInfo(info: LabInfo): string {
  const { paths, ports, pids } = info;
  const heading = info.alreadyUp
    ? `mailmend lab "${info.serverId}" is already up (state in ${info.stateDir})`
    : `mailmend lab "${info.serverId}" is up in ${(info.startupMs / 1000).toFixed(1)} s (state in ${info.stateDir})`;
  return [
    `${heading}\n`,
    textTable(
      [
        ['SERVICE', 'LISTENS', 'PID', 'WHAT'],
        [
          'postfix',
          `127.0.0.1:${ports.smtp}`,
          String(pids.postfix),
          'SMTP; mail for canary@lab.test, the rest to the relay',
        ],
        ['dovecot', `127.0.0.1:${ports.imap}`, String(pids.dovecot), 'IMAP without TLS'],
        ['sshd', `127.0.0.1:${ports.ssh}`, String(pids.sshd), `root, with the key ${paths.sshClientKey}`],
        ['relay', `127.0.0.1:${ports.relay}`, String(pids.relay), 'stands in for the upstream relay; discards mail'],
      ],
      '  ',
    ),
    `server entry: ${info.fragmentFile}\n`,
    '  mailmend.lab.yaml includes it (serverFiles); in your own config, list it under `serverFiles:`\n',
    `canary: canary@lab.test, password in ${paths.canaryPasswordFile}\n`,
    `log in: ssh -i ${paths.sshClientKey} -o UserKnownHostsFile=${paths.sshKnownHosts} -p ${ports.ssh} root@127.0.0.1\n`,
    '  there MAIL_CONFIG points postfix, postqueue and postconf at the lab\n',
    `break it: npx mailmend lab break <${LAB_SCENARIOS.join('|')}>\n`,
  ].join('');
}

function serviceStateText(state: ServiceState): string {
  if (state.up) return 'up';
  if (state.pid === undefined) return 'down';
  if (state.stopped) return 'down (stopped, state T: the port connects but nothing answers)';
  return 'down (running, but the port refuses connections)';
}

function renderLabStatus(status: LabStatus): string {
  if (!status.configured) return `no lab in ${status.stateDir}: start one with \`npx mailmend lab up\`\n`;
  const rows = status.services.map((state) => [
    state.service,
    `127.0.0.1:${state.port}`,
    state.pid === undefined ? '-' : String(state.pid),
    serviceStateText(state),
  ]);
  const summary = status.allUp ? 'all up' : `${status.services.filter((state) => !state.up).length} down`;
  return `lab "${status.serverId}" in ${status.stateDir}: ${summary}\n${textTable([['SERVICE', 'PORT', 'PID', 'STATE'], ...rows], '  ')}`;
}

/** Offers to install missing packages when someone at a root terminal can say yes, then tries once more. */
async function upWithPrerequisites(options: LabUpOptions, deps: LabCliDeps): Promise<LabInfo> {
  try {
    return await labUp(options);
  } catch (error) {
    const confirm = confirmer(deps);
    if (!(error instanceof LabPrerequisiteError) || !confirm) throw error;
    deps.stderr(`${error.message}\n`);
    if (!(await confirm(`Run \`${LAB_INSTALL_COMMAND}\` now? [y/N] `))) throw error;
    const exitCode = await installLabPrerequisites();
    if (exitCode !== 0) throw new Error(`\`${LAB_INSTALL_COMMAND}\` exited with ${exitCode}`, { cause: error });
    return labUp(options);
  }
}

/** Adds a subcommand of `mailmend lab` that takes `--state-dir`. */
type LabSubcommand = (name: string, description: string) => Command;

/**
 * The `mailmend lab` group: a real Postfix, Dovecot and sshd on loopback to practise the procedure on.
 *
 * @example mailmend lab up --smtp-port 2525 && mailmend lab break postfix-stopped && mailmend lab heal
 */
export function registerLabCommands(program: Command, deps: LabCliDeps): void {
  const lab = program.command('lab').description('a real mail host on loopback to practise outages on (needs root)');
  const labCommand: LabSubcommand = (name, description) =>
    lab
      .command(name)
      .description(description)
      .option('--state-dir <dir>', 'where the lab keeps its config, queue, mail and logs', DEFAULT_STATE_DIR);
  addUpCommand(labCommand, deps);
  addStatusCommand(labCommand, deps);
  addBreakCommand(labCommand, deps);
  addHealCommand(labCommand, deps);
  addRelayCommand(labCommand, deps);
  addDownCommand(labCommand, deps);
}

function addUpCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('up', 'start Postfix, Dovecot, sshd and a relay sink, and write the mailmend server entry for them')
    .option(
      '--smtp-port <port>',
      `Postfix SMTP port (default: the last lab's, else ${DEFAULT_LAB_PORTS.smtp})`,
      parsePort,
    )
    .option(
      '--imap-port <port>',
      `Dovecot IMAP port (default: the last lab's, else ${DEFAULT_LAB_PORTS.imap})`,
      parsePort,
    )
    .option('--ssh-port <port>', `sshd port (default: the last lab's, else ${DEFAULT_LAB_PORTS.ssh})`, parsePort)
    .option(
      '--relay-port <port>',
      `port of the relay sink Postfix relays to (default: the last lab's, else ${DEFAULT_LAB_PORTS.relay})`,
      parsePort,
    )
    .option('--server-id <id>', "the server id in the mailmend config entry (default: the last lab's, else lab)")
    .action(async (options: LabUpOptions) => {
      deps.stdout(renderLabInfo(await upWithPrerequisites(options, deps)));
    });
}

function addStatusCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('status', 'show whether each lab service runs and listens').action(async (options: StateDirOption) => {
    deps.stdout(renderLabStatus(await labStatus(options.stateDir)));
  });
}

function addBreakCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('break', 'cause an outage on the lab, the way it happens on a real host')
    .addArgument(new Argument('<scenario>', 'which outage').choices(LAB_SCENARIOS))
    .addHelpText('after', `\nScenarios:\n${textTable(Object.entries(LAB_SCENARIO_SUMMARIES), '  ')}`)
    .action(async (scenario: LabScenario, options: StateDirOption) => {
      const { steps } = await labBreak(options.stateDir, scenario);
      deps.stdout(
        `${scenario}: done\n${steps.map((step) => `  - ${step}\n`).join('')}` +
          'undo it with `npx mailmend lab heal`, or let mailmend find and fix it\n',
      );
    });
}

function addHealCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('heal', 'restore the known-good config, start what is down, and flush the queue').action(
    async (options: StateDirOption) => {
      const { actions } = await labHeal(options.stateDir);
      deps.stdout(`the lab is healthy again\n${actions.map((action) => `  - ${action}\n`).join('')}`);
    },
  );
}

function addRelayCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('relay', 'start or stop the relay sink, as when the upstream relay comes back or goes away')
    .addArgument(new Argument('<action>').choices(['start', 'stop'] as const))
    .action(async (action: 'start' | 'stop', options: StateDirOption) => {
      const { pid } = await labRelay(options.stateDir, action);
      deps.stdout(action === 'start' ? `the relay sink runs (pid ${pid})\n` : 'the relay sink is stopped\n');
    });
}

function addDownCommand(labCommand: LabSubcommand, deps: LabCliDeps): void {
  labCommand('down', 'stop every lab process and remove the lab from Postfix alternate_config_directories').action(
    async (options: StateDirOption) => {
      const { stopped } = await labDown(options.stateDir);
      deps.stdout(
        stopped.length === 0
          ? 'nothing of the lab was running\n'
          : `stopped ${stopped.map(({ service, pid }) => `${service} (pid ${pid})`).join(', ')}\n`,
      );
    },
  );
}
