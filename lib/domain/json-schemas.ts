/** JSON Schemas of the published events, generated from the zod schemas (never edited by hand). */
import * as z from 'zod/mini';
import { PUBLISHED_SCHEMAS } from './audit-events';
import { DETAIL_TYPES } from './events';

const TITLES: Record<keyof typeof PUBLISHED_SCHEMAS, string> = {
  'stickiness-change-requested': `detail of "${DETAIL_TYPES.changeRequested}"`,
  'stickiness-change-audit': `detail of "${DETAIL_TYPES.applied}", "${DETAIL_TYPES.unchanged}", "${DETAIL_TYPES.refused}" and "${DETAIL_TYPES.failed}"`,
  'zone-configuration-applied': `detail of "${DETAIL_TYPES.zoneApplied}"`,
};

export const renderJsonSchemas = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(PUBLISHED_SCHEMAS).map(([name, schema]) => {
      const json = {
        title: TITLES[name as keyof typeof PUBLISHED_SCHEMAS],
        ...z.toJSONSchema(schema, { io: 'input' }),
      };
      return [`${name}.schema.json`, `${JSON.stringify(json, null, 2)}\n`];
    }),
  );
