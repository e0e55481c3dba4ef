/** jest's globalTeardown: removes the tests' TMPDIR and HOME (./sandbox.js). */
const { rmSync } = require('node:fs');

module.exports = async () => {
  const sandbox = process.env.STICKLER_TEST_SANDBOX;
  if (sandbox?.includes('stickler-tests-')) rmSync(sandbox, { recursive: true, force: true });
};
