import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

const REDACTED_KEYS = ['password', 'pass', 'token', 'authorization', 'privateKey', 'url', 'apiKey'];

/** JSON for machines and files; pretty for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/**
 * `LOG_FORMAT=json|pretty` decides; otherwise CI gets JSON, a terminal gets pretty lines, and a pipe or file gets JSON.
 *
 * @example logFormatFor(process.env, process.stdout.isTTY) // 'pretty' in a terminal
 */
export function logFormatFor(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean | undefined): LogFormat {
  const requested = env.LOG_FORMAT?.trim().toLowerCase();
  if (requested === 'json' || requested === 'pretty') return requested;
  if (env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0') return 'json';
  return stdoutIsTerminal ? 'pretty' : 'json';
}

/**
 * The incident and step lead each pretty line, so a person scanning the terminal sees which incident and which step
 * of the procedure a line belongs to without reading the fields below it.
 */
function prettyMessage(line: Record<string, unknown>, messageKey: string): string {
  const where = [line.incidentId, line.step].filter((field) => typeof field === 'string' && field !== '');
  const message = String(line[messageKey] ?? '');
  return where.length > 0 ? `[${where.join(' ')}] ${message}` : message;
}

/** pino-pretty in this thread, writing synchronously, so lines keep their order with console output. */
export function prettyDestination(destination: NodeJS.WritableStream = process.stdout): DestinationStream {
  return pretty({
    destination,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,incidentId,step',
    messageFormat: prettyMessage,
    colorize: destination === process.stdout ? undefined : false,
  });
}

interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go; stdout unless a test captures them. */
  destination?: NodeJS.WritableStream;
}

/**
 * The one log sink on stdout, pretty in a terminal and pino JSON otherwise (see {@link logFormatFor}). Values under
 * secret-bearing key names are masked, at the top level of a line and one object down (`{ auth: { password } }`);
 * secret values under other names are not recognised.
 */
export function createLogger({
  level = process.env.LOG_LEVEL ?? 'info',
  format = logFormatFor(process.env, process.stdout.isTTY),
  destination = process.stdout,
}: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'mailmend' },
    redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((key) => `*.${key}`)], censor: '[secret]' },
  };
  return pino(options, format === 'pretty' ? prettyDestination(destination) : (destination as DestinationStream));
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Routes the SDK's, the workflows' and the activities' log lines into the same pino sink, keyed by incident. */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const fields: Record<string, unknown> = { ...meta };
    if (typeof fields.workflowId === 'string' && fields.workflowId.startsWith('incident-')) {
      fields.incidentId ??= fields.workflowId;
    }
    logger[PINO_LEVEL[level]](fields, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
