/** Reading an HTTP answer without reading past a size: OVH's answers, its token endpoint's, Prometheus'. */

/** The answer's text, or undefined past `limit` bytes (declared or read), reading no further. */
export const readBounded = async (response: Response, limit: number): Promise<string | undefined> => {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    return declared > limit ? undefined : '';
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
};
