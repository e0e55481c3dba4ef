import { awsRestJsonClientFromEnv, LAMBDA } from '../../lib/adapters/aws/aws-json-client';
import { LambdaSelfInvoker } from '../../lib/adapters/lambda/lambda-self-invoker';
import { awsEnv, motoUrl, STACK } from './moto';

/**
 * moto runs a function's code in Docker, which this machine does not have: an invocation of a
 * deployed function is accepted (202) but its answer is then moto's Docker error. So the request
 * is checked in two halves: against the functions the stack deployed (a missing one is refused as
 * Lambda refuses it), and against moto's Docker-less Lambda, which accepts an invocation of any
 * name and answers with the payload it received (the request's shape and payload, not the work).
 */
describe('Lambda Invoke on moto: the Slack function dispatching work to itself', () => {
  const client = () => awsRestJsonClientFromEnv(LAMBDA, awsEnv(), { maxAttempts: 1 });
  const work = { kind: 'show', service: 'loadbalancer-a', responseUrl: 'https://hooks.slack.com/commands/x' };
  const useDocker = (on: boolean) =>
    fetch(`${motoUrl()}/moto-api/config`, {
      method: 'POST',
      body: JSON.stringify({ lambda: { use_docker: on } }),
    });

  it('fails, not retried, for a function the stack did not deploy', async () => {
    await expect(
      new LambdaSelfInvoker({ client: client(), functionName: `${STACK.slackFunction}-gone` }).dispatch(work),
    ).rejects.toMatchObject({ code: 'ResourceNotFoundException', retryable: false });
  });

  describe('with moto running no code', () => {
    beforeAll(() => useDocker(false));
    afterAll(() => useDocker(true));

    it('invokes asynchronously, at the function path Lambda documents, with the work as the payload', async () => {
      await expect(
        new LambdaSelfInvoker({ client: client(), functionName: STACK.slackFunction }).dispatch(work),
      ).resolves.toBeUndefined();
      // The same request, made by hand to see what moto received (it answers with the payload).
      await expect(
        client()('POST', `/2015-03-31/functions/${STACK.slackFunction}/invocations`, work, {
          'x-amz-invocation-type': 'Event',
        }),
      ).resolves.toEqual(work);
    });
  });
});
