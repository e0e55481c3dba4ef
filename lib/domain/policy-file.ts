/** Reads policy files (YAML). Kept apart from policy.ts so that code that only matches farms carries no YAML parser. */
import { type Policy, PolicySchema } from './policy-schema';
import { parseYamlWith } from './yaml-document';

/** Parses and validates a policy document; throws a YamlInputError naming each bad line. */
export const parsePolicy = (text: string, source = 'policy'): Policy =>
  parseYamlWith(PolicySchema, text, source, 'invalid-policy');
