/**
 * WorkDispatcher on Lambda's asynchronous invocation of the function itself
 * (`X-Amz-Invocation-Type: Event`): Lambda queues the payload and answers 202 at once, so an
 * HTTP entry point can answer first and do slow work in a second invocation. The payload goes
 * only through Lambda's own queue (never the event bus or a log); what is not picked up within
 * the function's maximum event age is dropped by Lambda, as a stale chat answer should be.
 */
import type { WorkDispatcher } from '../../ports/work-dispatcher';
import { AwsError, type AwsRestCall } from '../aws/aws-json-client';

/** Lambda's limit on an asynchronous invocation's payload. */
export const MAX_ASYNC_PAYLOAD_BYTES = 256 * 1024;

export class LambdaSelfInvoker<W> implements WorkDispatcher<W> {
  constructor(private readonly options: { client: AwsRestCall; functionName: string }) {}

  async dispatch(work: W): Promise<void> {
    const size = Buffer.byteLength(JSON.stringify(work));
    if (size > MAX_ASYNC_PAYLOAD_BYTES)
      throw new AwsError(
        'RequestTooLarge',
        `the work is ${size} bytes, over Lambda's asynchronous limit`,
        false,
      );
    await this.options.client(
      'POST',
      `/2015-03-31/functions/${encodeURIComponent(this.options.functionName)}/invocations`,
      work as object,
      { 'x-amz-invocation-type': 'Event' },
    );
  }
}
