import fc from 'fast-check';
import { compileGlob, globProblem } from '../../lib/domain/glob';
import { compilePolicy, maxDelayMs, quietestWindowOf } from '../../lib/domain/policy';
import { parsePolicy } from '../../lib/domain/policy-file';
import { compilePolicyGlob } from '../../lib/domain/policy-glob';
import { YamlInputError } from '../../lib/domain/yaml-document';
import { aFarm } from '../helpers/factories';

const farm = (over: Parameters<typeof aFarm>[0]) => aFarm({ service: 'loadbalancer-aaa', ...over });

const parseError = (text: string): YamlInputError => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    if (error instanceof YamlInputError) return error;
    throw error;
  }
  throw new Error('expected the policy to be refused');
};

describe('parsePolicy', () => {
  it('reads rules, limits and defaults', () => {
    const policy = parsePolicy(
      [
        'version: 1',
        'limits:',
        '  maxChangesPerRun: 5',
        'rules:',
        '  - match: { type: tcp }',
        '    stickiness: none',
      ].join('\n'),
    );
    expect(policy.limits.maxChangesPerRun).toBe(5);
    expect(policy.rules).toEqual([{ match: { type: 'tcp' }, stickiness: 'none' }]);
  });

  it('reads prefer: quietest with its maxDelay, as an ISO 8601 duration or minutes', () => {
    const limits = (lines: string[]) =>
      parsePolicy(['version: 1', 'limits:', ...lines, 'rules:', '  - stickiness: none'].join('\n')).limits;
    const now = new Date('2026-12-07T15:00:00Z');
    expect(quietestWindowOf(limits(['  prefer: quietest', '  maxDelay: PT6H']), now)).toEqual({
      notBefore: '2026-12-07T15:00:00.000Z',
      notAfter: '2026-12-07T21:00:00.000Z',
      prefer: 'quietest',
    });
    expect(quietestWindowOf(limits(['  prefer: quietest', '  maxDelay: 90']), now)?.notAfter).toBe(
      '2026-12-07T16:30:00.000Z',
    );
    expect(quietestWindowOf(limits(['  prefer: quietest', '  maxDelay: P1DT12H']), now)?.notAfter).toBe(
      '2026-12-09T03:00:00.000Z',
    );
    expect(quietestWindowOf(limits(['  maxChangesPerRun: 5']), now)).toBeUndefined();
    expect([maxDelayMs('PT5M'), maxDelayMs('P7D'), maxDelayMs(5)]).toEqual([300_000, 604_800_000, 300_000]);
    expect([
      maxDelayMs('PT4M'),
      maxDelayMs('P8D'),
      maxDelayMs('6h'),
      maxDelayMs('PT'),
      maxDelayMs(0),
      maxDelayMs(1.5),
    ]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  it('refuses a preference without its maxDelay, and a maxDelay it cannot read or alone, naming the line', () => {
    const refused = (lines: string[]) =>
      parseError(['version: 1', 'limits:', ...lines, 'rules:', '  - stickiness: none'].join('\n')).issues;
    expect(refused(['  prefer: quietest'])).toEqual([
      expect.objectContaining({
        path: 'limits.maxDelay',
        message: expect.stringContaining('needs maxDelay'),
      }),
    ]);
    for (const value of ['6 hours', 'PT2M', 'P30D', '-5'])
      expect(refused(['  prefer: quietest', `  maxDelay: ${value}`])).toEqual([
        expect.objectContaining({ path: 'limits.maxDelay', line: 4 }),
      ]);
    expect(refused(['  maxDelay: PT6H'])).toEqual([
      expect.objectContaining({
        path: 'limits.maxDelay',
        message: expect.stringContaining('goes with prefer'),
      }),
    ]);
    expect(refused(['  prefer: soonest', '  maxDelay: PT6H'])).toEqual([
      expect.objectContaining({ path: 'limits.prefer' }),
    ]);
    // With a zone-by-zone rollout, the rollout starts at the quietest time (its first zone's window).
    expect(
      parsePolicy(
        [
          'version: 1',
          'limits:',
          '  prefer: quietest',
          '  maxDelay: PT6H',
          '  rollout: zone-by-zone',
          'rules:',
          '  - stickiness: none',
        ].join('\n'),
        'policy.yaml',
      ).limits,
    ).toMatchObject({ prefer: 'quietest', rollout: 'zone-by-zone' });
  });

  it('names the line and field of a rule that can never be valid', () => {
    const error = parseError(
      [
        'version: 1',
        'rules:',
        '  - name: ok',
        '    stickiness: none',
        '  - match:',
        '      type: tcp',
        '    stickiness: cookie',
      ].join('\n'),
    );
    expect(error.code).toBe('invalid-policy');
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: 'rules[1].stickiness',
        line: 7,
        message: expect.stringContaining("'cookie' is not allowed on a TCP farm"),
      }),
    ]);
    expect(error.message).toContain('policy.yaml:7:');
  });

  it('refuses a name pattern that cannot work, with its line and field, when the file is read', () => {
    const error = parseError(
      [
        'version: 1',
        'rules:',
        '  - match: { displayName: "[z-a]*" }',
        '    stickiness: none',
        '  - match: { service: "lb-[" }',
        '    stickiness: none',
      ].join('\n'),
    );
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: 'rules[0].match.displayName',
        line: 3,
        message: expect.stringContaining("'[z-a]' is not a valid character class"),
      }),
      expect.objectContaining({
        path: 'rules[1].match.service',
        line: 5,
        message: expect.stringContaining("'[' at position 4 is never closed"),
      }),
    ]);
  });

  it('bounds every text of a rule, naming its line and field, and never quoting the text', () => {
    const long = (n: number) => 'x'.repeat(n);
    const error = parseError(
      [
        'version: 1',
        'rules:',
        `  - name: ${long(300_000)}`,
        '    stickiness: none',
        '  - match:',
        `      service: "lb-${long(200)}*"`,
        `      displayName: "${long(201)}"`,
        `      zone: ${long(65)}`,
        '    stickiness: none',
        `  - name: ${long(200)}`,
        `    match: { zone: ${long(64)}, displayName: "${long(200)}" }`,
        '    stickiness: none',
      ].join('\n'),
    );
    expect(error.issues.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '3 rules[0].name: must be at most 200 characters, got 300000',
      '6 rules[1].match.service: must be at most 200 characters, got 204',
      '8 rules[1].match.zone: must be at most 64 characters, got 65',
      '7 rules[1].match.displayName: must be at most 200 characters, got 201',
    ]);
    expect(error.message.length).toBeLessThan(1_000);
  });

  it('refuses an alias bomb and a file of several documents as policy errors, in its own words', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries())
      levels.push(`${name}: &${name} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`);
    expect(parseError(levels.join('\n')).message).toContain('cannot be read: Excessive alias count');
    const multi = parseError('version: 1\nrules: [{ stickiness: none }]\n---\nversion: 1\n');
    expect(multi.message).toContain("holds several YAML documents (a '---' line): a policy is one document");
    expect(multi.message).not.toContain('parseAllDocuments');
  });

  it('refuses unknown keys, so a typo never silently widens a rule', () => {
    const error = parseError(
      ['version: 1', 'rules:', '  - match: { servce: "lb-*" }', '    stickiness: none'].join('\n'),
    );
    expect(error.issues[0]).toEqual(expect.objectContaining({ path: 'rules[0].match', line: 3 }));
    expect(error.issues[0]?.message).toContain('servce');
  });

  it('refuses stickiness words the API does not know', () => {
    const error = parseError(['version: 1', 'rules:', '  - stickiness: sticky'].join('\n'));
    expect(error.issues[0]).toEqual(expect.objectContaining({ path: 'rules[0].stickiness', line: 3 }));
  });

  it('reports YAML syntax errors with their line', () => {
    const error = parseError('version: 1\nrules:\n  - stickiness: [cookie\n');
    expect(error.issues[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it('needs at least one rule and version 1', () => {
    const error = parseError('version: 2\nrules: []\n');
    expect(error.issues.map((i) => i.path).sort()).toEqual(['rules', 'version']);
  });
});

describe('compilePolicy', () => {
  const policy = parsePolicy(
    [
      'version: 1',
      'rules:',
      '  - name: checkout',
      '    match: { service: "loadbalancer-a*", type: http, displayName: "check?ut-*" }',
      '    stickiness: cookie',
      '  - name: pinned farm',
      '    match: { farmId: 7, zone: sbg }',
      '    stickiness: sourceIp',
      '  - name: default',
      '    stickiness: none',
    ].join('\n'),
  );
  const match = compilePolicy(policy);

  it('gives the first matching rule', () => {
    expect(match(farm({ displayName: 'checkout-eu' }))).toEqual({
      index: 0,
      label: 'checkout',
      target: 'cookie',
    });
    expect(match(farm({ displayName: 'checkout-eu', service: 'other' }))?.label).toBe('default');
    expect(match(farm({ farmId: 7, zone: 'sbg', type: 'tcp' }))?.label).toBe('pinned farm');
    expect(match(farm({ farmId: 7, zone: 'gra' }))?.label).toBe('default');
  });

  it('never matches UDP farms, which have no stickiness', () => {
    expect(match(farm({ type: 'udp' }))).toBeUndefined();
  });

  it('leaves farms alone when no rule matches', () => {
    const narrow = compilePolicy(
      parsePolicy('version: 1\nrules:\n  - match: { zone: rbx }\n    stickiness: none\n'),
    );
    expect(narrow(farm({ zone: 'gra' }))).toBeUndefined();
  });
});

describe('compilePolicyGlob', () => {
  it('matches as the glob syntax says: *, ?, classes, whole-string', () => {
    const cases: [string, string, boolean][] = [
      ['loadbalancer-*', 'loadbalancer-7f3a', true],
      ['loadbalancer-*', 'xloadbalancer-7f3a', false],
      ['web-??', 'web-eu', true],
      ['web-??', 'web-e', false],
      ['web-[a-c]*', 'web-b1', true],
      ['web-[!a-c]*', 'web-b1', false],
      ['a.b', 'axb', false],
      ['*', '', true],
      ['**x', 'x', true],
    ];
    for (const [pattern, name, expected] of cases)
      expect([pattern, name, compilePolicyGlob(pattern)(name)]).toEqual([pattern, name, expected]);
  });

  it('agrees with the glob compiled to a regular expression, for any pattern and name', () => {
    const alphabet = fc.constantFrom('a', 'b', '-', '.', '*', '?', '[', ']', '!', 'c');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 10 }).map((a) => a.join('')),
        fc
          .array(fc.constantFrom('a', 'b', '-', '.', 'c', '[', ']', '!'), { maxLength: 12 })
          .map((a) => a.join('')),
        (pattern, name) => {
          if (globProblem(pattern)) return;
          expect(compilePolicyGlob(pattern)(name)).toBe(compileGlob(pattern).test(name));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('answers at once for a pattern that makes a regular expression backtrack for minutes', () => {
    const started = Date.now();
    const match = compilePolicyGlob(`${'*a'.repeat(12)}*b`);
    expect(match('a'.repeat(200))).toBe(false);
    expect(match(`${'a'.repeat(199)}b`)).toBe(true);
    expect(Date.now() - started).toBeLessThan(200);
  });
});
