/**
 * The policy as a local file (the CLI's compliance run): a regular file of at most 1 MiB, read
 * once; its version is the SHA-256 of its bytes, so a run's events say which text was used.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { InvalidInputError } from '../../domain/errors';
import type { PolicyDocument, PolicySource } from '../../ports/policy-source';

export const MAX_POLICY_BYTES = 1024 * 1024;

export class FilePolicySource implements PolicySource {
  constructor(private readonly path: string) {}

  async load(): Promise<PolicyDocument> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.path);
    } catch (error) {
      throw new InvalidInputError(
        `cannot read policy ${this.path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
    if (!info.isFile()) throw new InvalidInputError(`policy ${this.path} is not a regular file`);
    if (info.size > MAX_POLICY_BYTES)
      throw new InvalidInputError(`policy ${this.path} is ${info.size} bytes, over ${MAX_POLICY_BYTES}`);
    const bytes = await readFile(this.path);
    return {
      text: bytes.toString('utf8'),
      source: this.path,
      version: `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`,
    };
  }
}
