/**
 * Free text from outside (a ticket's summary, a reporter's name, a chat reason) made safe to keep
 * and show: no control characters (a NUL, an ESC sequence, CR/LF that would forge a log line),
 * no bidirectional controls (U+202E makes `exe.txt` read as `txt.exe`), and a bound on length.
 * Markup (Slack mrkdwn, HTML) is left as text: each place that renders it escapes it.
 */

/** C0 controls, DEL and C1 controls, the line and paragraph separators, and the bidi controls. */
export const isUnsafeCodePoint = (cp: number): boolean =>
  cp < 0x20 ||
  (cp >= 0x7f && cp <= 0x9f) ||
  cp === 0x061c ||
  cp === 0x200e ||
  cp === 0x200f ||
  cp === 0x2028 ||
  cp === 0x2029 ||
  (cp >= 0x202a && cp <= 0x202e) ||
  (cp >= 0x2066 && cp <= 0x2069);

/** True when the text holds a character plainText would replace. */
export const hasUnsafeCharacters = (text: string): boolean => {
  for (const c of text) if (isUnsafeCodePoint(c.codePointAt(0)!)) return true;
  return false;
};

/**
 * `text` with every unsafe character replaced by a space (runs of them by one), trimmed, and cut
 * to `max` characters (code points, never half of a pair) with an ellipsis when it was longer.
 */
export const plainText = (text: string, max: number): string => {
  let out = '';
  let replacing = false;
  for (const c of text) {
    if (isUnsafeCodePoint(c.codePointAt(0)!)) {
      if (!replacing) out += ' ';
      replacing = true;
    } else {
      out += c;
      replacing = false;
    }
  }
  const chars = Array.from(out.trim());
  return chars.length > max ? `${chars.slice(0, Math.max(0, max - 1)).join('')}…` : chars.join('');
};

/**
 * `text` as a JSON string with every unsafe character escaped (`\u202e`), for messages that quote
 * what was received: JSON.stringify escapes control characters but leaves bidi controls as they are.
 */
export const quoted = (text: string, max = 64): string => {
  const chars = Array.from(text);
  const cut = chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
  return JSON.stringify(cut).replace(
    /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
};
