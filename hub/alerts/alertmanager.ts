/**
 * Forwarding to a Prometheus Alertmanager, for teams that already route
 * alerts there: after every evaluation the hub posts what fires (and what
 * resolved lately, with its end time) to POST /api/v2/alerts, the way
 * Prometheus does: Alertmanager expects firing alerts to be sent again
 * before its resolve_timeout, and takes an end time in the past as resolved.
 */
import type { AlertRecord } from './engine.ts';

export interface AlertmanagerForwarder {
  /** Posts the alerts; throws when Alertmanager did not take them. */
  push(alerts: AlertRecord[]): Promise<void>;
}

/** The body of POST /api/v2/alerts for our alerts. */
export function alertmanagerBody(alerts: AlertRecord[], hubUrl: string | undefined, now: number, evaluationIntervalMs: number) {
  return alerts.map((a) => ({
    labels: {
      alertname: a.rule, severity: a.severity, subject: a.subject,
      ...(a.node ? { instance: a.node } : { service: a.subject }),
    },
    annotations: { summary: a.summary, ...(a.value !== null ? { value: String(a.value) } : {}), ...(a.threshold !== null ? { threshold: String(a.threshold) } : {}) },
    startsAt: new Date(a.firingAt ?? a.startedAt).toISOString(),
    // Firing: valid for a few evaluations, as Prometheus does, so a hub that stops sending lets them resolve.
    endsAt: new Date(a.state === 'resolved' ? a.resolvedAt ?? now : now + 4 * evaluationIntervalMs).toISOString(),
    ...(hubUrl ? { generatorURL: `${hubUrl.replace(/\/$/, '')}/api/v1/alerts` } : {}),
  }));
}

/** Creates a forwarder for one Alertmanager base URL (http://am:9093). */
export function createAlertmanagerForwarder(opts: { url: string; hubUrl?: string; evaluationIntervalMs: number; now: () => number; timeoutMs?: number }): AlertmanagerForwarder {
  const endpoint = `${opts.url.replace(/\/$/, '')}/api/v2/alerts`;
  return {
    async push(alerts) {
      if (alerts.length === 0) return;
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertmanagerBody(alerts, opts.hubUrl, opts.now(), opts.evaluationIntervalMs)),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`Alertmanager at ${endpoint} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    },
  };
}
