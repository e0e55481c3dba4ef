import type { FollowedOutcome } from '../../lib/app/follow-requests';
import type { DoorResult, Requested } from '../../lib/app/pipeline-door';
import type { CliIo } from '../../lib/cli/io';
import type { PipelineConnection } from '../../lib/cli/pipeline';
import { linesOf, pipelineExitCode, printPipelineResult } from '../../lib/cli/pipeline-report';
import type { TerminalOutcome } from '../../lib/domain/audit-events';

const requested = (farmId: number): Requested => ({
  requestId: `cli-run-${farmId}`,
  farm: { service: 'lb-a', type: 'http', farmId },
  stickiness: 'cookie',
});
const ended = (t: Partial<TerminalOutcome>): FollowedOutcome => ({
  kind: 'ended',
  terminal: {
    outcome: 'applied',
    code: null,
    message: null,
    service: 'lb-a',
    farmType: 'http',
    farmId: 1,
    zone: 'gra',
    before: 'none',
    after: 'cookie',
    taskId: 42,
    ticket: null,
    decidedAt: '2026-12-07T10:00:00Z',
    ...t,
  },
});
const connection = { where: 'the local pipeline', actor: { id: 'local' }, local: true } as PipelineConnection;
const result = (outcomes: [number, FollowedOutcome | undefined][]): DoorResult => ({
  runId: 'run',
  requested: outcomes.filter(([, o]) => o).map(([id]) => requested(id)),
  notPublished: outcomes.filter(([, o]) => !o).map(([id]) => requested(id)),
  outcomes: new Map(outcomes.filter(([, o]) => o).map(([id, o]) => [`cli-run-${id}`, o!])),
});
const capture = () => {
  const out: string[] = [];
  return {
    io: { stdout: { write: (t: string) => out.push(t) } } as unknown as CliIo,
    text: () => out.join(''),
  };
};

describe('the pipeline report', () => {
  it('exits 0 when everything applied, was unchanged or waits for its window; 2 on a refusal or cancel; 1 on a failure or no outcome', () => {
    const code = (o: FollowedOutcome | undefined) => pipelineExitCode(linesOf(result([[1, o]])));
    expect(code(ended({}))).toBe(0);
    expect(code(ended({ outcome: 'unchanged' }))).toBe(0);
    expect(code({ kind: 'deferred', until: '2026-12-08T00:00:00Z' })).toBe(0);
    expect(code(ended({ outcome: 'refused', code: 'superseded' }))).toBe(2);
    expect(code(ended({ outcome: 'cancelled' }))).toBe(2);
    expect(code(ended({ outcome: 'failed' }))).toBe(1);
    expect(code({ kind: 'running', state: 'in-progress' })).toBe(1);
    expect(code(undefined)).toBe(1);
  });

  it('lists each change with its request id and outcome, says how to follow what is unfinished and how to undo', () => {
    const c = capture();
    const exit = printPipelineResult(
      c.io,
      false,
      connection,
      result([
        [1, ended({})],
        [2, ended({ outcome: 'refused', code: 'superseded', message: 'a newer request \u001b[31mwon' })],
        [3, { kind: 'running' }],
        [4, undefined],
      ]),
    );
    expect(exit).toBe(1);
    const text = c.text();
    expect(text).toMatch(
      /^Applied 1, unchanged 0, refused 1, failed 0, no outcome yet 1, not requested 1\.\n/,
    );
    expect(text).toContain('cli-run-1  lb-a http/1: none → cookie, zone gra applied (task 42)');
    expect(text).toContain('lb-a http/2 → cookie: a newer request \u001b[31mwon [superseded]');
    // (The CLI's streams show that escape as ?: runCli wraps them with terminalSafe.)
    expect(text).toContain('lb-a http/3 → cookie: no outcome yet (not yet taken by the worker)');
    expect(text).toContain('lb-a http/4 → cookie: the bus refused the request (no reason given)');
    expect(text).toContain("'stickler status ID... --pipeline'");
    expect(text).toContain("'stickler undo ID... --pipeline'");
  });

  it('gives every change with its request id and outcome in --json', () => {
    const c = capture();
    printPipelineResult(
      c.io,
      true,
      connection,
      result([
        [1, ended({})],
        [2, { kind: 'deferred', until: 'T' }],
      ]),
      {
        undoOf: ['x'],
      },
    );
    const doc = JSON.parse(c.text());
    expect(doc).toMatchObject({
      mode: 'pipeline',
      where: 'the local pipeline',
      actor: { id: 'local' },
      runId: 'run',
      undoOf: ['x'],
    });
    expect(doc.changes).toEqual([
      expect.objectContaining({
        requestId: 'cli-run-1',
        outcome: 'applied',
        before: 'none',
        after: 'cookie',
        zone: 'gra',
        taskId: 42,
      }),
      expect.objectContaining({ requestId: 'cli-run-2', outcome: 'deferred', deferredUntil: 'T' }),
    ]);
  });
});
