/**
 * A local stand-in for an SQS standard queue with a Lambda event source mapping: it batches
 * messages (batch size and batching window), invokes the handler with real SQS event records, up
 * to `pollers` batches at once (Lambda's pollers, capped by the event source's maximum
 * concurrency; default 1), deletes what the handler acknowledged, redelivers
 * the reported batch item failures after the visibility timeout (or the delay the handler set
 * with ChangeMessageVisibilityBatch, served over HTTP at `url`), and moves a message to the
 * dead-letter list once it has been received maxReceiveCount times.
 */

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { listenOn } from './listen';

interface Message {
  id: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  sentAt: number;
  /** While a batch holds it: when it becomes visible again if the batch hands it back. */
  inFlight?: { visibleAt?: number };
}

export interface LocalQueueOptions {
  name: string;
  region: string;
  batchSize: number;
  batchWindowMs: number;
  visibilityTimeoutMs: number;
  maxReceiveCount: number;
  /**
   * Multiplies the delays the handler asks for with ChangeMessageVisibilityBatch (default 1, as
   * SQS does): long fault tests shorten the worker's 5 s, 10 s, 20 s … retry delays this way.
   */
  delayScale?: number;
  /** How many batches may be in the handler at once (default 1). */
  pollers?: number;
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;
  onBatch?: (records: SQSRecord[], result: SQSBatchResponse | undefined) => void;
  /** Told when a batch is handed to the handler (the latency benchmark times the queue's wait). */
  onBatchStart?: (records: SQSRecord[]) => void;
}

export class LocalQueue {
  readonly deadLetters: Message[] = [];
  private readonly messages: Message[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  private closed = false;
  private server: Server | undefined;
  /** The SQS endpoint (AWS_ENDPOINT_URL_SQS) once `listen` resolved. */
  url = '';

  constructor(private readonly options: LocalQueueOptions) {}

  /** Serves ChangeMessageVisibilityBatch over HTTP (the AWS JSON protocol) for the handler's delays. */
  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, {
            'Content-Type': 'application/x-amz-json-1.0',
            'x-amzn-RequestId': randomUUID(),
          });
          res.end(JSON.stringify(body));
        };
        if (req.headers['x-amz-target'] === 'AmazonSQS.GetQueueUrl') {
          // For `stickler doctor`: this queue by name; any other does not exist here.
          let name: unknown;
          try {
            name = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { QueueName?: unknown })
              .QueueName;
          } catch {
            return reply(400, { __type: 'InvalidParameterValue', message: 'body is not JSON' });
          }
          return name === this.options.name
            ? reply(200, { QueueUrl: `${this.url}/000000000000/${this.options.name}` })
            : reply(400, {
                __type: 'com.amazonaws.sqs#QueueDoesNotExist',
                message: 'The specified queue does not exist.',
              });
        }
        if (req.headers['x-amz-target'] !== 'AmazonSQS.ChangeMessageVisibilityBatch') {
          return reply(400, {
            __type: 'UnsupportedOperation',
            message: `${req.headers['x-amz-target']} is not served locally`,
          });
        }
        let body: { Entries?: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[] };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return reply(400, { __type: 'InvalidParameterValue', message: 'body is not JSON' });
        }
        const Successful: { Id: string }[] = [];
        const Failed: { Id: string; Code: string; SenderFault: boolean }[] = [];
        for (const entry of body.Entries ?? []) {
          const m = this.messages.find((x) => this.receiptHandle(x) === entry.ReceiptHandle);
          if (!m) Failed.push({ Id: entry.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true });
          else {
            const at = Date.now() + entry.VisibilityTimeout * 1000 * (this.options.delayScale ?? 1);
            if (m.inFlight) m.inFlight.visibleAt = at;
            else m.visibleAt = at;
            Successful.push({ Id: entry.Id });
          }
        }
        reply(200, { Successful, Failed });
      });
    });
    this.url = `http://127.0.0.1:${await listenOn(this.server, port, 'queue')}`;
    return this.url;
  }

  private receiptHandle(m: Message): string {
    return createHash('sha256').update(`${m.id}:${m.receiveCount}`).digest('base64');
  }

  /**
   * Enqueues a message body; the first message of an empty queue opens a batching window. A
   * duplicate of a message SQS already holds keeps that message's id and SentTimestamp.
   */
  send(body: string, id: string = randomUUID(), sentAt: number = Date.now()): void {
    this.messages.push({ id, body, receiveCount: 0, visibleAt: Date.now(), sentAt });
    this.schedule(this.options.batchWindowMs);
  }

  /** Resolves once every message has been delivered and acknowledged or dead-lettered. */
  drained(): Promise<void> {
    if (this.messages.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.server?.close();
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed || this.inFlight >= (this.options.pollers ?? 1)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, delayMs);
  }

  private async poll(): Promise<void> {
    const now = Date.now();
    const batch = this.messages.filter((m) => m.visibleAt <= now).slice(0, this.options.batchSize);
    if (batch.length === 0) {
      if (this.inFlight > 0) return; // a running batch schedules the next poll when it ends
      const next = Math.min(...this.messages.map((m) => m.visibleAt));
      if (Number.isFinite(next)) this.schedule(Math.max(0, next - now));
      else this.settle();
      return;
    }
    this.inFlight++;
    // As deployed, the visibility timeout (six function timeouts) outlasts any invocation: a
    // message is never received again while a batch still holds it.
    for (const m of batch) {
      m.receiveCount++;
      m.visibleAt = Number.POSITIVE_INFINITY;
      m.inFlight = {};
    }
    // Another poller takes what is left, as Lambda's do.
    if (this.messages.some((m) => m.visibleAt <= now)) this.schedule(0);
    const records = batch.map((m) => this.record(m));
    let result: SQSBatchResponse | undefined;
    let failedIds: Set<string>;
    this.options.onBatchStart?.(records);
    try {
      result = await this.options.handler({ Records: records });
      failedIds = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      failedIds = new Set(batch.map((m) => m.id)); // a thrown handler fails the whole batch
    }
    this.options.onBatch?.(records, result);
    const ended = Date.now();
    for (const m of batch) {
      m.visibleAt = m.inFlight?.visibleAt ?? ended + this.options.visibilityTimeoutMs;
      m.inFlight = undefined;
      if (failedIds.has(m.id) && m.receiveCount < this.options.maxReceiveCount) continue; // redelivered later
      this.messages.splice(this.messages.indexOf(m), 1);
      if (failedIds.has(m.id)) this.deadLetters.push(m);
    }
    this.inFlight--;
    if (this.messages.length > 0) this.schedule(0);
    else if (this.inFlight === 0) this.settle();
  }

  private settle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private record(m: Message): SQSRecord {
    return {
      messageId: m.id,
      receiptHandle: this.receiptHandle(m),
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentAt),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(m.sentAt),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(m.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${this.options.region}:000000000000:${this.options.name}`,
      awsRegion: this.options.region,
    };
  }
}
