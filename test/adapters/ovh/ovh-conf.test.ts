import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ovhConfPaths, parseIni, withOvhConf } from '../../../lib/adapters/ovh/ovh-conf';

const files = (map: Record<string, string>) => (path: string) => map[path];
const conf = (endpoint: string, keys: Record<string, string>) =>
  `[default]\n; the API to call\nendpoint=${endpoint}\n\n[${endpoint}]\n${Object.entries(keys)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;

describe('ovh.conf', () => {
  it('looks in /etc, the home folder, then the current folder, the last found winning', () => {
    expect(ovhConfPaths('/work', '/home/ops')).toEqual([
      '/etc/ovh.conf',
      '/home/ops/.ovh.conf',
      '/work/ovh.conf',
    ]);
    const { env, read } = withOvhConf(
      {},
      ovhConfPaths('/work', '/home/ops'),
      files({
        '/etc/ovh.conf': conf('ovh-eu', {
          application_key: 'ak-etc',
          application_secret: 'as-etc',
          consumer_key: 'ck-etc',
        }),
        '/work/ovh.conf': '[ovh-eu]\nconsumer_key = ck-project\n',
      }),
      () => 0o100600,
    );
    expect(read).toEqual(['/etc/ovh.conf', '/work/ovh.conf']);
    expect(env).toMatchObject({
      OVH_ENDPOINT: 'ovh-eu',
      OVH_APPLICATION_KEY: 'ak-etc',
      OVH_APPLICATION_SECRET: 'as-etc',
      OVH_CONSUMER_KEY: 'ck-project',
    });
  });

  it('leaves every variable the environment sets, and takes the keys of the endpoint the environment names', () => {
    const text =
      conf('ovh-eu', { application_key: 'ak-eu', application_secret: 'as-eu', consumer_key: 'ck-eu' }) +
      '[ovh-ca]\napplication_key=ak-ca\napplication_secret=as-ca\nconsumer_key=ck-ca\n';
    const { env } = withOvhConf(
      { OVH_ENDPOINT: 'ovh-ca', OVH_CONSUMER_KEY: 'ck-env' },
      ['/c'],
      files({ '/c': text }),
      () => 0o100600,
    );
    expect(env).toMatchObject({
      OVH_ENDPOINT: 'ovh-ca',
      OVH_APPLICATION_KEY: 'ak-ca',
      OVH_APPLICATION_SECRET: 'as-ca',
      OVH_CONSUMER_KEY: 'ck-env',
    });
  });

  it('warns when a file holding secrets may be read by others, never showing them', () => {
    const { warnings } = withOvhConf(
      {},
      ['/c'],
      files({
        '/c': conf('ovh-eu', { application_key: 'a', application_secret: 's3cret', consumer_key: 'c' }),
      }),
      () => 0o100644,
    );
    expect(warnings).toEqual(['/c holds OVH secrets and may be read by other users: chmod 600 /c']);
    expect(warnings.join('')).not.toContain('s3cret');
  });

  it("reads a service account's client_id and client_secret, and warns of a readable client_secret", () => {
    const { env, warnings } = withOvhConf(
      {},
      ['/c'],
      files({ '/c': conf('ovh-us', { client_id: 'US.sa-1', client_secret: 'sa-s3cret' }) }),
      () => 0o100640,
    );
    expect(env).toEqual({ OVH_ENDPOINT: 'ovh-us', OVH_CLIENT_ID: 'US.sa-1', OVH_CLIENT_SECRET: 'sa-s3cret' });
    expect(warnings).toEqual(['/c holds OVH secrets and may be read by other users: chmod 600 /c']);
    expect(warnings.join('')).not.toContain('sa-s3cret');
  });

  it('changes nothing without a file, and refuses a line that is not ini, naming file and line only', () => {
    expect(withOvhConf({ A: '1' }, ['/none'], files({}))).toEqual({
      env: { A: '1' },
      read: [],
      warnings: [],
    });
    expect(() => parseIni('[ovh-eu]\nconsumer_key\n', '/c')).toThrow(/^\/c:2: not an ini line/);
    expect(() => parseIni('application_key=x\n', '/c')).toThrow(/^\/c:1: not an ini line/);
    expect(parseIni('# c\n[s]\nK: v\n', '/c').get('s')?.get('k')).toBe('v');
  });

  it('reads real files, and says which cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stickler-ovhconf-'));
    writeFileSync(
      join(dir, 'ovh.conf'),
      conf('ovh-eu', { application_key: 'a', application_secret: 's', consumer_key: 'c' }),
      {
        mode: 0o600,
      },
    );
    const { env, warnings } = withOvhConf({}, [join(dir, 'missing.conf'), join(dir, 'ovh.conf')]);
    expect(env.OVH_CONSUMER_KEY).toBe('c');
    expect(warnings).toEqual([]);
    writeFileSync(join(dir, 'big.conf'), `# ${'x'.repeat(70_000)}\n`);
    expect(() => withOvhConf({}, [join(dir, 'big.conf')])).toThrow(/over 64 KiB/);
    expect(() => withOvhConf({}, [join(dir, 'ovh.conf', 'x')])).not.toThrow();
  });
});
