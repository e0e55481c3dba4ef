/**
 * OVH service accounts: the OAuth2 client-credentials flow, as OVH's official clients run it
 * (python-ovh through requests-oauthlib, go-ovh through golang.org/x/oauth2): a POST of
 * `grant_type=client_credentials&scope=all` to the endpoint's token URL with the client id and
 * secret in HTTP Basic authentication (RFC 6749 §2.3.1, form-encoded, then base64), and the
 * access token it answers sent as `Authorization: Bearer` on every API call.
 *
 * A token is kept until shortly before its `expires_in`, one fetch at a time for every call that
 * needs it; the HTTP client drops it and fetches another once when the API answers 401.
 */
import { plainText } from '../../domain/text';
import type { Clock } from '../../ports/clock';
import { readBounded } from '../http/read-bounded';
import { OvhApiError } from './errors';

export interface ServiceAccountCredentials {
  clientId: string;
  clientSecret: string;
  /** Where they were read (named in errors, never their values): `OVH_CLIENT_ID and …`, an SSM parameter. */
  source?: string;
}

/** Token answers are a few hundred bytes; anything past this is not one. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/**
 * How long a token is used: its lifetime less a tenth of it, at most a minute, so that a call
 * never leaves with a token about to expire. Undefined (no `expires_in`): until the API refuses it.
 */
export const usableForMs = (expiresInSeconds: number | undefined): number | undefined =>
  expiresInSeconds === undefined
    ? undefined
    : Math.max(0, expiresInSeconds * 1000 - Math.min(60_000, expiresInSeconds * 100));

interface HeldToken {
  value: string;
  /** Epoch ms from which it is not used any more (undefined: until refused). */
  until: number | undefined;
}

interface Entry {
  clientId: string;
  clientSecret: string;
  pending?: Promise<HeldToken>;
  token?: HeldToken;
}

export interface TokenSourceOptions {
  tokenUrl: string;
  fetch?: typeof fetch;
  clock: Clock;
}

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 asks for Basic credentials. */
const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);

export class OAuth2TokenSource {
  private entry: Entry | undefined;
  private readonly fetchImpl: typeof fetch;
  /** Token fetches made (for tests and the doctor). */
  fetches = 0;

  constructor(private readonly options: TokenSourceOptions) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  get tokenUrl(): string {
    return this.options.tokenUrl;
  }

  /**
   * An access token for these credentials: the one held while usable, otherwise a new one (calls
   * that need one while it is being fetched wait for that fetch). Credentials that changed (a
   * secret rotated in SSM) never get the old account's token.
   */
  async token(credentials: ServiceAccountCredentials, timeoutMs: number): Promise<string> {
    const now = this.options.clock.now().getTime();
    const held = this.entry;
    if (held && held.clientId === credentials.clientId && held.clientSecret === credentials.clientSecret) {
      if (held.token && (held.token.until === undefined || held.token.until > now)) return held.token.value;
      if (held.pending) return (await held.pending).value;
    }
    const entry: Entry = { clientId: credentials.clientId, clientSecret: credentials.clientSecret };
    entry.pending = this.fetchToken(credentials, timeoutMs);
    this.entry = entry;
    try {
      const token = await entry.pending;
      entry.token = token;
      entry.pending = undefined;
      return token.value;
    } catch (error) {
      if (this.entry === entry) this.entry = undefined; // a failure is never kept
      throw error;
    }
  }

  /** Forgets `value` (the API refused it); a token fetched since is kept. */
  invalidate(value: string): void {
    if (this.entry?.token?.value === value) this.entry = undefined;
  }

  private async fetchToken(credentials: ServiceAccountCredentials, timeoutMs: number): Promise<HeldToken> {
    this.fetches++;
    const url = this.options.tokenUrl;
    const method = 'POST';
    // The secret never reaches an error: the server's words are shown with it (and the id) blanked.
    // Every form they travel in is blanked: as given, form-encoded, and the Basic credentials
    // (base64, with and without the form encoding) a server or proxy may echo back.
    const basic = (id: string, secret: string) => Buffer.from(`${id}:${secret}`).toString('base64');
    const hidden: [string, string][] = [
      [basic(formEncode(credentials.clientId), formEncode(credentials.clientSecret)), '[credentials]'],
      [basic(credentials.clientId, credentials.clientSecret), '[credentials]'],
      [credentials.clientSecret, '[secret]'],
      [formEncode(credentials.clientSecret), '[secret]'],
      [credentials.clientId, '[client id]'],
      [formEncode(credentials.clientId), '[client id]'],
    ];
    const redact = (text: string) =>
      hidden.reduce((out, [value, label]) => (value ? out.split(value).join(label) : out), text);
    const where = `the client id and secret (${credentials.source ?? 'OVH_CLIENT_ID and OVH_CLIENT_SECRET'})`;
    let response: Response;
    let text: string | undefined;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: {
          Accept: 'application/json',
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret)}`).toString('base64')}`,
        },
        body: 'grant_type=client_credentials&scope=all',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await readBounded(response, MAX_TOKEN_ANSWER_BYTES);
    } catch (cause) {
      const name = (cause as { name?: unknown } | null)?.name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      const code = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
      // fetch's own message may quote a header value (the Basic credentials): never repeated.
      throw new OvhApiError(
        timedOut ? 'timeout' : 'network',
        timedOut
          ? `no answer from the OAuth2 token URL within ${timeoutMs} ms`
          : `the OAuth2 token URL cannot be reached (${typeof code === 'string' ? code : 'network error'})`,
        { method, path: url, retryable: true, outcomeUnknown: false },
      );
    }
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text ?? '');
      body = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const field = (name: string, max = 200) =>
      typeof body?.[name] === 'string'
        ? plainText(redact(body[name] as string), max) || undefined
        : undefined;
    const oauthError = field('error', 64);
    if (!response.ok || oauthError) {
      const status = response.status;
      const retryable = status === 429 || status === 408 || status >= 500;
      const said = [oauthError, field('error_description')].filter(Boolean).join(': ');
      throw new OvhApiError(
        retryable ? 'server-error' : 'credentials-refused',
        retryable
          ? `the OAuth2 token URL failed${said ? ` (${said})` : ''}`
          : `OVH refused the service account's token request${said ? ` (${said})` : ''}: check ${where}, that the service account still exists, and that ${url} is the token URL of this OVH endpoint (OVH_OAUTH2_TOKEN_URL for a base-URL endpoint)`,
        { method, path: url, status, retryable, outcomeUnknown: false },
      );
    }
    const token = body?.access_token;
    const type = body?.token_type;
    const expiresIn = body?.expires_in;
    if (
      typeof token !== 'string' ||
      !/^[\x21-\x7e]{1,8192}$/.test(token) ||
      (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) ||
      (expiresIn !== undefined && (typeof expiresIn !== 'number' || !(expiresIn >= 0)))
    )
      throw new OvhApiError(
        'bad-response',
        'the OAuth2 token URL answered without a usable bearer token (access_token, token_type Bearer, expires_in)',
        { method, path: url, status: response.status, retryable: false, outcomeUnknown: false },
      );
    const lifetime = usableForMs(expiresIn as number | undefined);
    return {
      value: token,
      until: lifetime === undefined ? undefined : this.options.clock.now().getTime() + lifetime,
    };
  }
}
