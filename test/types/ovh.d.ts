// The official `ovh` client ships no types; tests use it only as a signature oracle.
declare module 'ovh' {
  interface OvhClient {
    signRequest(method: string, url: string, body: string, timestamp: number | string): string;
    request(
      method: string,
      path: string,
      params: unknown,
      callback: (error: unknown, result: unknown) => void,
    ): void;
  }
  function ovh(params: {
    appKey: string;
    appSecret: string;
    consumerKey?: string;
    endpoint?: string;
    apiTimeDiff?: number;
  }): OvhClient;
  export = ovh;
}
