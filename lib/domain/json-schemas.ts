/** JSON Schemas of the published events, generated from the zod schemas (never edited by hand). */
import * as z from 'zod/mini';
import { PUBLISHED_SCHEMAS } from './audit-events';
import { DETAIL_TYPES } from './events';
import { GenericTicketSchema } from './ticket-payload';

const SCHEMAS = { ...PUBLISHED_SCHEMAS, 'ticketing-generic': GenericTicketSchema } as const;

const TITLES: Record<keyof typeof SCHEMAS, string> = {
  'ticketing-generic':
    'body of POST /webhooks/generic (sign it: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>)',
  'stickiness-change-requested': `detail of "${DETAIL_TYPES.changeRequested}"`,
  'stickiness-change-audit': `detail of "${DETAIL_TYPES.applied}", "${DETAIL_TYPES.unchanged}", "${DETAIL_TYPES.refused}", "${DETAIL_TYPES.failed}", "${DETAIL_TYPES.cancelled}" and "${DETAIL_TYPES.deferred}"`,
  'zone-configuration-applied': `detail of "${DETAIL_TYPES.zoneApplied}"`,
  'compliance-drift-detected': `detail of "${DETAIL_TYPES.complianceDrift}"`,
  'compliance-run-blocked': `detail of "${DETAIL_TYPES.complianceBlocked}"`,
  'compliance-run-completed': `detail of "${DETAIL_TYPES.complianceCompleted}"`,
  'compliance-run-failed': `detail of "${DETAIL_TYPES.complianceFailed}"`,
  'compliance-rollout': `detail of "${DETAIL_TYPES.rolloutFinished}" and "${DETAIL_TYPES.rolloutStopped}"`,
  'stickiness-change-denied': `detail of "${DETAIL_TYPES.denied}"`,
  'stickiness-change-cancel-requested': `detail of "${DETAIL_TYPES.cancelRequested}" (in)`,
  'stickiness-change-cancel-refused': `detail of "${DETAIL_TYPES.cancelRefused}"`,
  'ticket-edit-ignored': `detail of "${DETAIL_TYPES.ticketEditIgnored}" (source stickler.ticketing)`,
  'zone-refresh-requested': `detail of "${DETAIL_TYPES.zoneRefreshRequested}" (in; source stickler.cli)`,
  'zone-refresh-audit': `detail of "${DETAIL_TYPES.zoneRefreshApplied}", "${DETAIL_TYPES.zoneRefreshUnchanged}", "${DETAIL_TYPES.zoneRefreshRefused}" and "${DETAIL_TYPES.zoneRefreshFailed}"`,
};

export const renderJsonSchemas = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(SCHEMAS).map(([name, schema]) => {
      const json = {
        title: TITLES[name as keyof typeof SCHEMAS],
        ...z.toJSONSchema(schema, { io: 'input' }),
      };
      return [`${name}.schema.json`, `${JSON.stringify(json, null, 2)}\n`];
    }),
  );
