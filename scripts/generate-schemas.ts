// Writes schemas/*.schema.json from the event schemas; test/domain/json-schemas.test.ts fails when they drift.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from '../lib/domain/json-schemas';

for (const [file, text] of Object.entries(renderJsonSchemas())) {
  writeFileSync(join(__dirname, '..', 'schemas', file), text);
  console.log(`wrote schemas/${file}`);
}
