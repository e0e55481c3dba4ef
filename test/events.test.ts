import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { parseChangeRequestBody } from '../lib/adapters/sqs/change-request-record';
import { ChangeRequestedDetailSchema } from '../lib/domain/events';

const root = join(__dirname, '../events/apply-worker');

describe('sample events under events/apply-worker', () => {
  it.each(readdirSync(root))(
    '%s is a real SQS envelope whose records the worker parses as it would in AWS',
    (file) => {
      const event = JSON.parse(readFileSync(join(root, file), 'utf8')) as SQSEvent;
      expect(event.Records.length).toBeGreaterThan(0);
      for (const record of event.Records) {
        expect(record).toMatchObject({
          eventSource: 'aws:sqs',
          awsRegion: expect.any(String),
          messageId: expect.any(String),
        });
        const parsed = parseChangeRequestBody(record.messageId, record.body);
        // Only the poison sample may hold records the worker refuses.
        if (!file.startsWith('poison')) expect(parsed).toMatchObject({ ok: true });
      }
    },
  );
});

describe('examples/change-request.put-events.json', () => {
  it('is a PutEvents entry whose Detail is a valid change request', () => {
    const entries = JSON.parse(
      readFileSync(join(__dirname, '../examples/change-request.put-events.json'), 'utf8'),
    ) as {
      DetailType: string;
      Detail: string;
    }[];
    for (const entry of entries) {
      expect(entry.DetailType).toBe('Stickiness Change Requested');
      expect(ChangeRequestedDetailSchema.safeParse(JSON.parse(entry.Detail)).success).toBe(true);
    }
  });
});
