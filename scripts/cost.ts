/**
 * `npm run cost`: what an idle month and 1,000 change requests cost, from the template
 * `serverless package` builds (in a temporary folder) and the prices of scripts/cost-model.ts.
 */
import { join } from 'node:path';
import { costMarkdown } from './cost-model';
import { packageTemplate } from './package-template';

process.stdout.write(`${costMarkdown(packageTemplate(join(__dirname, '..'), 'cost'))}\n`);
