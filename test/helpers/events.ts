/** Loads the sample trigger events under events/, the same files `serverless invoke local` uses. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const loadEvent = <T = unknown>(fn: string, name: string): T =>
  JSON.parse(readFileSync(join(__dirname, '../../events', fn, `${name}.json`), 'utf8')) as T;
