/** The Log port over a Powertools logger: what every function's wiring hands its use cases. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../ports/log';

const LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']);

/**
 * The functions' logger. Its level comes from the environment the wiring was given (in Lambda,
 * the process's own), so a handler built for a test or the local pipeline logs at the level asked.
 */
export const functionLogger = (env: NodeJS.ProcessEnv): Logger => {
  const level = env.POWERTOOLS_LOG_LEVEL?.toUpperCase();
  return new Logger({
    serviceName: 'stickler',
    ...(level && LEVELS.has(level) ? { logLevel: level as 'INFO' } : {}),
  });
};

export const powertoolsLog = (logger: Logger): Log => ({
  info: (message, extra) => logger.info(message, extra ?? {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  error: (message, extra) => logger.error(message, extra ?? {}),
});
