import { LAMBDA } from '../../../lib/adapters/aws/aws-json-client';
import { LambdaSelfInvoker } from '../../../lib/adapters/lambda/lambda-self-invoker';
import { type FakeAws, startFakeAws } from '../../helpers/fake-aws';

describe('LambdaSelfInvoker (Lambda Invoke, asynchronous, over HTTP with SigV4 checked)', () => {
  let aws: FakeAws;
  beforeAll(async () => {
    aws = await startFakeAws({ service: 'lambda' });
  });
  afterAll(() => aws.close());
  beforeEach(() => aws.reset());
  const invoker = () =>
    new LambdaSelfInvoker<object>({
      client: aws.restClient(LAMBDA, { maxAttempts: 2, baseDelayMs: 1 }),
      functionName: 'stickler-dev-slack',
    });

  it('queues the work as an Event invocation of the function itself', async () => {
    aws.on('POST /2015-03-31/functions/stickler-dev-slack/invocations', () => ({ status: 202, body: {} }));
    await invoker().dispatch({ kind: 'stickler.slack-command', n: 1 });
    expect(aws.calls).toHaveLength(1);
    expect(aws.calls[0]!.input).toEqual({ kind: 'stickler.slack-command', n: 1 });
    expect(aws.calls[0]!.headers['x-amz-invocation-type']).toBe('Event');
  });

  it('retries throttling once, then fails so the caller can say so', async () => {
    aws.on('POST /2015-03-31/functions/stickler-dev-slack/invocations', () => ({
      status: 429,
      headers: { 'x-amzn-errortype': 'TooManyRequestsException' },
      body: { message: 'Rate exceeded' },
    }));
    await expect(invoker().dispatch({ n: 1 })).rejects.toThrow(/Lambda POST .*TooManyRequestsException/);
    expect(aws.calls).toHaveLength(2);
  });

  it("refuses work over Lambda's asynchronous payload limit before calling", async () => {
    await expect(invoker().dispatch({ big: 'x'.repeat(300 * 1024) })).rejects.toThrow(
      /over Lambda's asynchronous limit/,
    );
    expect(aws.calls).toHaveLength(0);
  });
});
