import { AwsError } from '../../../lib/adapters/aws/aws-json-client';
import { errorResponse } from '../../../lib/adapters/http/error-response';
import { OvhApiError } from '../../../lib/adapters/ovh/errors';
import {
  ConfigError,
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  RunRefusedError,
  UnauthenticatedError,
} from '../../../lib/domain/errors';

const body = (error: unknown) => JSON.parse(errorResponse(error).body);

describe('errorResponse (the one error → HTTP answer map)', () => {
  it('answers a refusal of the entry point with its status, and its message only when safe', () => {
    expect(errorResponse(new PayloadTooLargeError(256 * 1024)).statusCode).toBe(413);
    expect(body(new PayloadTooLargeError(256 * 1024))).toEqual({
      error: 'too-large',
      message: 'the request body is over 256 KiB',
    });
    // A signature problem says nothing of why.
    expect(body(new UnauthenticatedError())).toEqual({ error: 'unauthorized', message: 'unauthorized' });
  });

  it('lists the fields of invalid input', () => {
    const answer = errorResponse(
      new InvalidInputError('invalid request', [{ path: 'changes[0].farmId', message: 'expected number' }]),
    );
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).errors).toEqual([
      { path: 'changes[0].farmId', message: 'expected number' },
    ]);
  });

  it('maps not found to 404 and a refused run to 409', () => {
    expect(errorResponse(new NotFoundError('farm 9 was not found')).statusCode).toBe(404);
    expect(errorResponse(new RunRefusedError('over-limit', 'too many changes')).statusCode).toBe(409);
  });

  it('answers an outage behind it with 503 and Retry-After, without its details', () => {
    const answer = errorResponse(
      new AwsError('ThrottlingException', 'EventBridge PutEvents: Rate exceeded (request id r-1)', true),
    );
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('30');
    expect(answer.body).not.toContain('r-1');
    const ovh = new OvhApiError('server-error', 'boom', {
      method: 'GET',
      path: '/x',
      status: 503,
      retryable: true,
    });
    expect(errorResponse(ovh).statusCode).toBe(503);
  });

  it('never shows the caller an internal message', () => {
    for (const error of [
      new Error('secret stack detail /var/task/x.js'),
      new ConfigError('OVH_APPLICATION_SECRET=abc is wrong'),
      'a string',
    ]) {
      const answer = errorResponse(error);
      expect(answer.statusCode).toBe(500);
      expect(JSON.parse(answer.body)).toEqual({ error: 'internal-error', message: 'internal error' });
    }
  });
});
