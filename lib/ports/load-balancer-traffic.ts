/** The traffic of OVH load balancers, as the core reads it (a service at a time). */
import type { TrafficReading } from '../domain/traffic';

export interface TrafficReadOptions {
  /** Also read the past days' history the profile is built from (default true). */
  history?: boolean;
}

export interface LoadBalancerTraffic {
  /**
   * The service's rates over the 5 minutes before `at`, and (unless told not to) one requests
   * rate per 5-minute slot over the 7 days before. Never throws and never blocks for long: a
   * service without metrics (none offered, a refused token, a timeout, an empty answer) is
   * answered `known: false` with the reason.
   */
  read(service: string, at: Date, options?: TrafficReadOptions): Promise<TrafficReading>;
}
