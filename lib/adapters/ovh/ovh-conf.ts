/**
 * OVH's configuration files, as every official OVH client reads them: `/etc/ovh.conf`, then
 * `~/.ovh.conf`, then `./ovh.conf`, a later file's value replacing an earlier one's, and the
 * environment variables above them all. The format is an ini file:
 *
 *     [default]
 *     endpoint=ovh-eu
 *
 *     [ovh-eu]
 *     application_key=...
 *     application_secret=...
 *     consumer_key=...
 *
 * or, for a service account, `client_id=...` and `client_secret=...` in that section (never both
 * kinds: OVH's clients refuse it, and so does ovhConfigFromEnv).
 *
 * `[default] endpoint` names the section holding the keys (and the API to call). The result is
 * the environment the rest of the CLI reads (OVH_ENDPOINT, OVH_APPLICATION_KEY, …), with where
 * each value came from; a file holding a secret that others may read is warned about.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../domain/errors';

type Ini = Map<string, Map<string, string>>;

/** Parses an ini text: `[section]`, `key = value` or `key: value`, comments `;` and `#`. */
export const parseIni = (text: string, source: string): Ini => {
  const out: Ini = new Map();
  let section: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]{1,100})\]$/.exec(line);
    if (header) {
      const name = header[1]!.trim();
      section = out.get(name) ?? new Map();
      out.set(name, section);
      return;
    }
    const pair = /^([A-Za-z0-9_.-]{1,100})\s*[=:]\s*(.*)$/.exec(line);
    if (!pair || !section)
      throw new ConfigError(
        `${source}:${i + 1}: not an ini line (expected [section] or key=value inside a section)`,
      );
    section.set(pair[1]!.toLowerCase(), pair[2]!.trim());
  });
  return out;
};

/** The files looked at, in the order their values apply (the last one found wins). */
export const ovhConfPaths = (cwd: string, home: string | undefined): string[] => [
  '/etc/ovh.conf',
  ...(home ? [join(home, '.ovh.conf')] : []),
  join(cwd, 'ovh.conf'),
];

const KEYS = {
  OVH_APPLICATION_KEY: 'application_key',
  OVH_APPLICATION_SECRET: 'application_secret',
  OVH_CONSUMER_KEY: 'consumer_key',
  OVH_CLIENT_ID: 'client_id',
  OVH_CLIENT_SECRET: 'client_secret',
} as const;

/** The keys whose value is a secret (a file holding one must not be readable by others). */
const SECRET_KEYS = new Set(['application_secret', 'consumer_key', 'client_secret']);

export interface OvhConfResult {
  /** The environment with the files' values where the environment had none. */
  env: NodeJS.ProcessEnv;
  /** Files read, and warnings to show (a secret readable by others). Values are never shown. */
  read: string[];
  warnings: string[];
}

/** The environment, completed from OVH's configuration files where it says nothing. */
export const withOvhConf = (
  env: NodeJS.ProcessEnv,
  paths: readonly string[],
  readFile: (path: string) => string | undefined = defaultRead,
  modeOf: (path: string) => number | undefined = defaultMode,
): OvhConfResult => {
  const merged: Ini = new Map();
  const read: string[] = [];
  const holding = new Map<string, string>();
  for (const path of paths) {
    const text = readFile(path);
    if (text === undefined) continue;
    read.push(path);
    for (const [name, section] of parseIni(text, path)) {
      const into = merged.get(name) ?? new Map<string, string>();
      for (const [k, v] of section) {
        into.set(k, v);
        if (SECRET_KEYS.has(k)) holding.set(`${name}.${k}`, path);
      }
      merged.set(name, into);
    }
  }
  if (read.length === 0) return { env, read, warnings: [] };
  const endpoint = env.OVH_ENDPOINT?.trim() || merged.get('default')?.get('endpoint') || undefined;
  const out: NodeJS.ProcessEnv = { ...env };
  if (endpoint && !env.OVH_ENDPOINT?.trim()) out.OVH_ENDPOINT = endpoint;
  const section = endpoint ? merged.get(endpoint) : undefined;
  const warnings: string[] = [];
  for (const [variable, key] of Object.entries(KEYS)) {
    if (env[variable]?.trim()) continue;
    const value = section?.get(key);
    if (!value) continue;
    out[variable] = value;
    const file = holding.get(`${endpoint}.${key}`);
    const mode = file ? modeOf(file) : undefined;
    if (file && mode !== undefined && (mode & 0o077) !== 0 && !warnings.some((w) => w.includes(file)))
      warnings.push(`${file} holds OVH secrets and may be read by other users: chmod 600 ${file}`);
  }
  return { env: out, read, warnings };
};

function defaultRead(path: string): string | undefined {
  try {
    const info = statSync(path);
    if (!info.isFile()) return undefined;
    if (info.size > 64 * 1024) throw new ConfigError(`${path}: over 64 KiB, not an OVH configuration file`);
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`cannot read ${path}: ${code ?? 'error'}`);
  }
}

function defaultMode(path: string): number | undefined {
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}
