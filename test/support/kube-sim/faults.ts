/**
 * Injected failures. A fault names the requests it hits (a resource, and a page of a list of it)
 * and fires `times` times; the first matching fault in injection order is taken.
 */

export type Fault =
  | { kind: 'status'; status: number; resource?: string; page?: number; times?: number; retryAfterSeconds?: number }
  | { kind: 'drop'; resource?: string; page?: number; times?: number };

export class Faults {
  private readonly armed: Array<{ fault: Fault; left: number }> = [];

  inject(fault: Fault): void {
    if (fault.kind === 'status' && !(Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599)) {
      throw new RangeError(`kube-sim: a status fault needs an HTTP error status (400-599), got ${fault.status}`);
    }
    const times = fault.times ?? 1;
    if (!(times >= 1)) throw new RangeError(`kube-sim: a fault must fire at least once, got times: ${times}`);
    this.armed.push({ fault, left: times });
  }

  clear(): void {
    this.armed.length = 0;
  }

  /**
   * The fault for a request about `resource` (undefined for discovery and /version), on page
   * `page` when it is a list (undefined for a GET of one object), spending one of its firings.
   */
  take(resource: string | undefined, page: number | undefined): Fault | undefined {
    const i = this.armed.findIndex(
      ({ fault }) => (fault.resource === undefined || fault.resource === resource) && (fault.page === undefined || fault.page === page),
    );
    if (i < 0) return undefined;
    const hit = this.armed[i]!;
    if (--hit.left <= 0) this.armed.splice(i, 1);
    return hit.fault;
  }
}
