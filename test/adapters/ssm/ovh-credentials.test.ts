import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { makeSsmCredentialsLoader } from '../../../lib/adapters/ssm/ovh-credentials';

const ssm = mockClient(SSMClient);
const secret = 'very-secret-application-secret';
const value = JSON.stringify({ applicationKey: 'ak', applicationSecret: secret, consumerKey: 'ck' });

describe('OVH credentials from SSM', () => {
  let now = 0;
  const clock = { now: () => new Date(now), sleep: async () => undefined };
  const loader = () =>
    makeSsmCredentialsLoader({
      ssm: new SSMClient({ region: 'eu-west-3' }),
      parameterName: '/stickler/prod/ovh',
      clock,
      cacheMs: 1000,
    });
  beforeEach(() => {
    ssm.reset();
    now = 0;
  });

  it('reads the SecureString decrypted, then serves it from cache until it expires', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: value } });
    const load = loader();
    await expect(load()).resolves.toEqual({
      applicationKey: 'ak',
      applicationSecret: secret,
      consumerKey: 'ck',
    });
    await load();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]!.args[0].input).toEqual({
      Name: '/stickler/prod/ovh',
      WithDecryption: true,
    });
    now = 1001;
    await load();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('names the parameter but never its value when the value is not the expected JSON', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: `{"applicationSecret":"${secret}"}` } });
    const error = (await loader()().catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      'SSM parameter /stickler/prod/ovh must hold JSON with applicationKey, applicationSecret and consumerKey',
    );
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(String(error.stack)).not.toContain(secret);
  });

  it('does not cache a failure: the next call asks SSM again', async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))
      .resolves({
        Parameter: { Value: value },
      });
    const load = loader();
    await expect(load()).rejects.toThrow(
      'cannot read OVH credentials from SSM parameter /stickler/prod/ovh: AccessDeniedException',
    );
    await expect(load()).resolves.toMatchObject({ consumerKey: 'ck' });
  });
});
