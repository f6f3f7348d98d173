// The process logger: pino, one JSON object per line for machines (level as a word, ISO time, service
// name and version on every line), or pino-pretty for a developer's terminal (`--log-format pretty`).
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { TiffinError } from '../../errors/index.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../config.ts';
import { LogDestination } from './log-destination.ts';

export type { Logger } from 'pino';
export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel };

export interface LoggerOptions {
  /** Default 'info'. */
  level?: LogLevel;
  /** Default 'json'. */
  format?: LogFormat;
  /** Service name, on every line as `service`. */
  service?: string;
  /** Service or Tiffin version, on every line as `version`. */
  version?: string;
  /** Where lines go. Default: stdout, buffered and written asynchronously (see stdoutDestination). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'json';
  if (!LOG_LEVELS.includes(level)) {
    throw new TiffinError('CONFIG_INVALID', `log level must be one of ${LOG_LEVELS.join(', ')}; got "${String(level)}"`);
  }
  if (!LOG_FORMATS.includes(format)) {
    throw new TiffinError('CONFIG_INVALID', `log format must be one of ${LOG_FORMATS.join(', ')}; got "${String(format)}"`);
  }
  const base: Record<string, unknown> = { pid: process.pid };
  if (options.service !== undefined) base.service = options.service;
  if (options.version !== undefined) base.version = options.version;

  if (format === 'pretty') {
    // In-process pretty printing: slow, but development-only, and it keeps lines in order with console output.
    const stream = pretty({
      colorize: options.destination === undefined && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service,version',
      sync: true,
      ...(options.destination ? { destination: options.destination } : {}),
    });
    return pino({ level, base }, stream);
  }
  const destination = options.destination ?? stdoutDestination();
  const logger = pino(
    {
      level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level as a word: log pipelines and humans grepping files both read "error" more easily than 50.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  // The base fields as pino writes them after level and time, for writers that compose lines themselves.
  jsonLoggers.set(logger, { destination, base: JSON.stringify(base).slice(1, -1) });
  return logger;
}

/** Loggers made here in JSON format: where they write and their base fields as a JSON fragment. */
const jsonLoggers = new WeakMap<Logger, { destination: DestinationStream; base: string }>();

/** A logger's JSON line format, when it is one of createLogger's JSON loggers (the same line pino would write). */
export function jsonLineFormat(logger: Logger): { destination: DestinationStream; base: string } | undefined {
  return jsonLoggers.get(logger);
}

/** Stdout for JSON lines, one per process (shared by every logger that writes there, so their lines stay in
 * order): buffered and written in large chunks from the thread pool, see LogDestination. */
let stdout: LogDestination | undefined;
function stdoutDestination(): DestinationStream {
  stdout ??= new LogDestination({ fd: 1 });
  return stdout;
}
