/**
 * The tests' own TMPDIR and HOME, made when jest reads its configuration (before any worker or
 * transform starts, so everything the tests and their tools write lands there) and removed by
 * ./remove-sandbox.js when the run ends: `npm test` leaves nothing in the user's TMPDIR or HOME.
 */
const { mkdirSync, mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

// 'off' (jest.aws.config.js): the real ones.
if (!process.env.STICKLER_TEST_SANDBOX) {
  const sandbox = mkdtempSync(join(tmpdir(), 'stickler-tests-'));
  for (const dir of ['tmp', 'home']) mkdirSync(join(sandbox, dir));
  Object.assign(process.env, {
    // The functions the tests run log nothing between results unless a test asks for it.
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
    // Nor metric lines (a test that reads them turns them on for its own handler).
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    STICKLER_TEST_SANDBOX: sandbox,
    TMPDIR: join(sandbox, 'tmp'),
    HOME: join(sandbox, 'home'),
  });
}
