/** Reading ticket field values as ticketing systems send them: text, a select option, a reference. */

/** `"x"`, `{ value: "x" }` (Jira select, ServiceNow display/value pair) or `{ name: "x" }` → "x". */
export const textOf = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object') {
    const v = value as { value?: unknown; name?: unknown };
    return textOf(v.value) ?? textOf(v.name);
  }
  return undefined;
};

/** `"http/101, tcp/201"`, `["http/101", …]` or select options → the farm references. */
export const farmRefsOf = (value: unknown): string[] => {
  if (Array.isArray(value)) return value.flatMap(farmRefsOf);
  const text = textOf(value);
  return text ? text.split(/[\s,;]+/).filter(Boolean) : [];
};

/** `http/101` → its parts, or what was given when it does not read as one (the use case says why). */
export const farmChangeOf = (ref: string, service: unknown, stickiness: unknown) => {
  const match = /^(http|tcp|udp)\/(\d{1,16})$/.exec(ref);
  return {
    service,
    farmType: match ? match[1] : ref,
    farmId: match ? Number(match[2]) : ref,
    stickiness,
  };
};

/** One change per farm reference; with none, one change whose missing farm the use case reports. */
export const farmChangesOf = (refs: readonly string[], service: unknown, stickiness: unknown) =>
  refs.length > 0
    ? refs.map((r) => farmChangeOf(r, service, stickiness))
    : [{ service, farmType: undefined, farmId: undefined, stickiness }];

/** `{ window }` when the ticket gives either end of its change window, else nothing. */
export const windowOf = (notBefore: string | undefined, notAfter: string | undefined) =>
  notBefore || notAfter
    ? { window: { ...(notBefore ? { notBefore } : {}), ...(notAfter ? { notAfter } : {}) } }
    : {};
