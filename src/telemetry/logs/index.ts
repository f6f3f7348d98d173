// Owns: structured logs: the pino logger and its destination, the access log, size-rotated files.
// Knows nothing about: metrics, traces or what is logged beyond a line's fields.
export { createLogger, LOG_LEVELS, LOG_FORMATS, type Logger, type LoggerOptions, type LogLevel, type LogFormat } from './logger.ts';
