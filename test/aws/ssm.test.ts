import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsJsonClientFromEnv, SSM } from '../../lib/adapters/aws/aws-json-client';
import { makeSsmCredentialsLoader } from '../../lib/adapters/ssm/ovh-credentials';
import { isMissingParameter, makeSsmSecret } from '../../lib/adapters/ssm/ssm-secret';
import { systemClock } from '../../lib/ports/clock';
import { awsEnv, sdk, unique } from './moto';

describe('SSM GetParameter on moto: SecureStrings decrypted on read', () => {
  const ssm = () => awsJsonClientFromEnv(SSM, awsEnv(), { maxAttempts: 1 });

  it('reads the OVH credentials from a SecureString as the functions do', async () => {
    const name = `/stickler/dev/${unique('ovh-credentials')}`;
    const credentials = { applicationKey: 'ak', applicationSecret: 'as', consumerKey: 'ck' };
    await new SSMClient(sdk()).send(
      new PutParameterCommand({ Name: name, Type: 'SecureString', Value: JSON.stringify(credentials) }),
    );
    // Without WithDecryption moto, like SSM, would hand back the ciphertext, which would not parse.
    await expect(
      makeSsmCredentialsLoader({ ssm: ssm(), parameterName: name, clock: systemClock })(),
    ).resolves.toEqual(credentials);
  });

  it('tells a parameter that does not exist (a webhook source not configured) from an outage', async () => {
    const read = makeSsmSecret({
      ssm: ssm(),
      parameterName: `/stickler/dev/${unique('none')}`,
      clock: systemClock,
    });
    const error = await read().catch((e: unknown) => e);
    expect(isMissingParameter(error)).toBe(true);
    expect(error).toMatchObject({ retryable: false });
  });
});
