import { checkTarget, toWire, toWord } from '../../lib/domain/stickiness';

describe('stickiness rules', () => {
  it('allows cookie, sourceIp and none on HTTP farms', () => {
    expect(checkTarget('http', 'cookie')).toEqual({ ok: true });
    expect(checkTarget('http', 'sourceIp')).toEqual({ ok: true });
    expect(checkTarget('http', null)).toEqual({ ok: true });
  });

  it('refuses cookie on a TCP farm and says what is allowed', () => {
    const verdict = checkTarget('tcp', 'cookie');
    expect(verdict).toEqual({
      ok: false,
      reason: "stickiness 'cookie' is not allowed on a TCP farm (allowed: sourceIp, none)",
    });
    expect(checkTarget('tcp', 'sourceIp').ok).toBe(true);
    expect(checkTarget('tcp', null).ok).toBe(true);
  });

  it('refuses every stickiness on UDP farms, even none', () => {
    expect(checkTarget('udp', null)).toEqual({ ok: false, reason: 'UDP farms have no stickiness setting' });
    expect(checkTarget('udp', 'sourceIp').ok).toBe(false);
  });

  it('maps the word none to null on the wire and back', () => {
    expect(toWire('none')).toBeNull();
    expect(toWire('cookie')).toBe('cookie');
    expect(toWord(null)).toBe('none');
    expect(toWord('sourceIp')).toBe('sourceIp');
  });
});
