/** Where a compliance report's summary goes (a Slack channel), when configured. */
export interface RunSummarySink {
  post(text: string): Promise<void>;
}
