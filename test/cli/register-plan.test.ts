import type { PipelineConnection } from '../../lib/cli/pipeline';
import {
  MAX_REGISTERED_BYTES,
  registerPlan,
  registrationAsked,
  registrationProblem,
} from '../../lib/cli/register-plan';
import type { SavedPlan } from '../../lib/domain/saved-plan';
import { aPlanBody } from '../contracts/plan-registry.contract';
import { InMemoryPlanRegistry } from '../helpers/fakes';

const savedPlan = (changes = 2): SavedPlan => {
  const { body, digest } = aPlanBody(changes);
  return { ...body, digest };
};

const setup = () => {
  const plans = new InMemoryPlanRegistry();
  const err: string[] = [];
  const io = { stderr: { write: (t: string) => err.push(t) } } as never;
  const connection = { plans, where: 'stage prod (eu-west-3)' } as unknown as PipelineConnection;
  return { plans, err, io, connection };
};

describe('registering a saved plan with the pipeline (plan --out FILE --pipeline)', () => {
  it('is asked by --pipeline, --stage or STICKLER_PIPELINE=1 with --out; without --out, nothing is registered', () => {
    expect(registrationAsked({}, { out: 'p.json' })).toBe(false);
    expect(registrationAsked({}, { out: 'p.json', pipeline: true })).toBe(true);
    expect(registrationAsked({}, { out: 'p.json', stage: 'prod' })).toBe(true);
    expect(registrationAsked({ STICKLER_PIPELINE: '1' }, { out: 'p.json' })).toBe(true);
    expect(registrationAsked({ STICKLER_PIPELINE: '1' }, {})).toBe(false);
    expect(registrationAsked({}, { stage: 'prod' })).toBe(false);
    expect(registrationAsked({}, { pipeline: true })).toBe(false);
  });

  it('registers it for 7 days, once, and says the digest to put in the ticket', async () => {
    const h = setup();
    const plan = savedPlan();
    await registerPlan(h.io, h.connection, plan, 'p.json');
    const kept = h.plans.plans.get(plan.digest)!;
    const { digest: _, ...body } = plan;
    expect(JSON.parse(kept.body)).toEqual(body);
    expect(kept.expiresAt.getTime() - Date.now()).toBeGreaterThan(7 * 24 * 3600_000 - 60_000);
    expect(h.err.join('')).toContain('Plan registered with stage prod (eu-west-3), for 7 days');
    expect(h.err.join('')).toContain(
      `plan field (Jira, ServiceNow; "plan" in a generic payload):\n${plan.digest}\n`,
    );
    await registerPlan(h.io, h.connection, plan, 'p.json');
    expect(h.err.at(-1)).toContain('Plan already registered (the same digest is the same plan)');
  });

  it('refuses, before writing, a plan over 50 changes or 350 KB, saying how to narrow it', async () => {
    const h = setup();
    expect(registrationProblem(savedPlan(50))).toBeUndefined();
    const big = savedPlan(51);
    expect(registrationProblem(big)).toBe('it holds 51 changes, over the 50 a ticket may carry');
    await expect(registerPlan(h.io, h.connection, big, 'p.json')).rejects.toThrow(
      /plan saved to p.json but not registered with stage prod \(eu-west-3\): it holds 51 changes.*it is one load balancer already: narrow the policy/,
    );
    // A plan of several load balancers is told to narrow them.
    await expect(
      registerPlan(h.io, h.connection, { ...big, services: ['lb-a', 'lb-b'] }, 'p.json'),
    ).rejects.toThrow(/narrow it with --service NAME/);
    const heavy = savedPlan(1);
    heavy.farms = Array.from({ length: 3000 }, (_, i) => ({
      ...heavy.farms[0]!,
      farmId: i + 1,
      displayName: 'x'.repeat(100),
    }));
    expect(registrationProblem(heavy)).toMatch(new RegExp(`KB, over the ${MAX_REGISTERED_BYTES / 1024} KB`));
    expect(h.plans.plans.size).toBe(0);
  });

  it('says what the table answered, and which permission registering needs', async () => {
    const h = setup();
    h.plans.failures.fail(
      'register',
      Object.assign(new Error('User is not authorized'), { code: 'AccessDeniedException' }),
    );
    await expect(registerPlan(h.io, h.connection, savedPlan(), 'p.json')).rejects.toMatchObject({
      code: 'plan-not-registered',
      message: expect.stringContaining("dynamodb:PutItem on the table's ~plan:* items"),
    });
  });
});
