/** The Log port over a Powertools logger: what every function's wiring hands its use cases. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../ports/log';

export const powertoolsLog = (logger: Logger): Log => ({
  info: (message, extra) => logger.info(message, extra ?? {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  error: (message, extra) => logger.error(message, extra ?? {}),
});
