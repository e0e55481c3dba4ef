import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hubSignature, hubSignatureMatches } from '../../../lib/adapters/http/hub-signature';

const fixtures = join(__dirname, '../../fixtures/triggers');
const github = JSON.parse(readFileSync(join(fixtures, 'github/signature-test-vector.json'), 'utf8'));
const servicenow = JSON.parse(
  readFileSync(join(fixtures, 'servicenow/generateMac.doc-example.computed.json'), 'utf8'),
);

describe('hub signatures (HMAC-SHA256 over the raw body)', () => {
  it("accepts GitHub's published test vector", () => {
    const header = github.headers['X-Hub-Signature-256'];
    expect(hubSignatureMatches(header, Buffer.from(github.payload), github.secret)).toBe(true);
    expect(hubSignature(github.payload, github.secret)).toBe(header);
  });

  it('accepts the base64 MAC a ServiceNow business rule computes with generateMac', () => {
    const header = `sha256=${servicenow.computed_mac_base64}`;
    expect(hubSignatureMatches(header, Buffer.from(servicenow.data), servicenow.key_plain)).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['another algorithm', `sha1=${'0'.repeat(40)}`],
    ['for another body', hubSignature('Hello, World?', "It's a Secret to Everybody")],
    ['under another secret', hubSignature('Hello, World!', 'guess')],
    ['truncated', hubSignature('Hello, World!', "It's a Secret to Everybody").slice(0, 40)],
    ['oversized', `sha256=${'a'.repeat(5000)}`],
  ])('refuses a signature that is %s', (_, header) => {
    expect(hubSignatureMatches(header, Buffer.from(github.payload), github.secret)).toBe(false);
  });

  it('checks the bytes as received, not a re-serialised body', () => {
    const raw = Buffer.from('{"a": 1}');
    const header = hubSignature(raw, 's');
    expect(hubSignatureMatches(header, Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), 's')).toBe(
      false,
    );
  });
});
