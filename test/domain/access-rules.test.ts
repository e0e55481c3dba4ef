import { type AccessRule, compareAccessRules, STICKLER_ACCESS_RULES } from '../../lib/domain/access-rules';

const rule = (text: string): AccessRule => {
  const [method, path] = text.split(' ');
  return { method: method!, path: path! };
};

describe('compareAccessRules', () => {
  it("finds nothing missing and nothing broader in stickler's own rules", () => {
    expect(compareAccessRules(STICKLER_ACCESS_RULES)).toEqual({ missing: [], pinned: [], broader: [] });
  });

  it('names a missing rule, and a rule broader than needed', () => {
    const granted = [
      rule('GET /ipLoadbalancing'),
      rule('GET /ipLoadbalancing/*'),
      rule('PUT /ipLoadbalancing/*'),
      rule('DELETE /ipLoadbalancing/*'),
    ];
    const report = compareAccessRules(granted);
    expect(report.missing).toEqual([rule('POST /ipLoadbalancing/*/refresh')]);
    expect(report.broader).toEqual([rule('PUT /ipLoadbalancing/*'), rule('DELETE /ipLoadbalancing/*')]);
  });

  it('counts a whole-account key (GET /*) as broader, and it covers the reads', () => {
    const report = compareAccessRules([rule('GET /*'), rule('PUT /*'), rule('POST /*')]);
    expect(report.missing).toEqual([]);
    expect(report.broader.map((r) => r.method)).toEqual(['GET', 'PUT', 'POST']);
  });

  it('knows a key pinned to one load balancer: not missing, not broader, and says which', () => {
    const granted = [
      rule('GET /ipLoadbalancing'),
      rule('GET /ipLoadbalancing/lb-a/*'),
      rule('PUT /ipLoadbalancing/lb-a/http/farm/*'),
      rule('PUT /ipLoadbalancing/lb-a/tcp/farm/*'),
      rule('POST /ipLoadbalancing/lb-a/refresh'),
    ];
    const report = compareAccessRules(granted);
    expect(report.missing).toEqual([]);
    expect(report.broader).toEqual([]);
    expect(report.pinned.map((p) => p.services)).toEqual([['lb-a'], ['lb-a'], ['lb-a'], ['lb-a']]);
  });

  it('does not take /x/* for /x, as OVH does not', () => {
    const report = compareAccessRules([rule('GET /ipLoadbalancing/*')]);
    expect(report.missing).toContainEqual(rule('GET /ipLoadbalancing'));
  });

  it("lets the doctor's own rule be, and treats regular-expression characters as text", () => {
    const report = compareAccessRules([
      ...STICKLER_ACCESS_RULES,
      rule('GET /auth/currentCredential'),
      rule('GET /me.+'),
    ]);
    expect(report.broader).toEqual([rule('GET /me.+')]);
  });
});
