import ovh from 'ovh';
import { ovhSignatureMatches } from '../../lib/simulator/signature-check';

// The simulator's check, against the official ovh package's signer (not the project's own).
const credentials = { appKey: 'ak-123', appSecret: 'as-456', consumerKey: 'ck-789' };
const official = ovh({ ...credentials, endpoint: 'ovh-eu' });
const secrets = { applicationSecret: credentials.appSecret, consumerKey: credentials.consumerKey };

describe('the simulator checks OVH signatures with its own implementation', () => {
  const host = '127.0.0.1:8443';
  const target = '/1.0/ipLoadbalancing/lb-x/task?action=refreshIplb&status=todo';
  const body = JSON.stringify({ stickiness: null });
  const signature = official.signRequest('PUT', `http://${host}${target}`, body, 1_764_000_000);
  const received = { method: 'PUT', host, target, body, timestamp: '1764000000', signature };

  it('accepts what the official client signs', () => {
    expect(ovhSignatureMatches(received, secrets)).toBe(true);
  });

  it.each([
    ['the method', { method: 'POST' }],
    ['the query string', { target: target.replace('todo', 'doing') }],
    ['the host', { host: '127.0.0.1:9' }],
    ['the body', { body: '{"stickiness":"cookie"}' }],
    ['the timestamp', { timestamp: '1764000001' }],
    ['the signature', { signature: `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}` }],
  ])('refuses a request whose %s changed', (_, change) => {
    expect(ovhSignatureMatches({ ...received, ...change }, secrets)).toBe(false);
  });

  it('refuses a request signed with another secret', () => {
    expect(ovhSignatureMatches(received, { ...secrets, applicationSecret: 'other' })).toBe(false);
  });
});
