import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from '../../lib/domain/json-schemas';

describe('published JSON Schemas', () => {
  it.each(Object.entries(renderJsonSchemas()))(
    'schemas/%s matches the zod schema (run npm run schemas)',
    (file, text) => {
      expect(readFileSync(join(__dirname, '../../schemas', file), 'utf8')).toBe(text);
    },
  );
});
