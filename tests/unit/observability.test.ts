import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { collectProcessMetrics, knownLabel, registry } from '../../platform/observability/metrics.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Metric names an expression reads (histogram series by their metric's name). */
const metricsIn = (expression: string) =>
  [...expression.matchAll(/\b((?:twtr|process|nodejs)_\w+)/g)].map(([, name]) => name.replace(/_(bucket|count|sum)$/, ''));

describe('the dashboard and the alert rules', () => {
  collectProcessMetrics();
  const exported = new Set(registry.getMetricsAsArray().map((metric) => metric.name));
  const dashboard = JSON.parse(read('k8s/components/observability/twtr-dashboard.json'));
  const rules = parse(read('k8s/components/observability/prometheus-rule.yaml')).spec.groups.flatMap((group: any) => group.rules);

  it('read only metrics twtr exports', () => {
    const expressions = [
      ...dashboard.panels.flatMap((panel: any) => (panel.targets ?? []).map((target: any) => target.expr)),
      ...rules.map((rule: any) => rule.expr),
    ];
    const read = new Set(expressions.flatMap(metricsIn));
    expect(read.size).toBeGreaterThan(20);
    expect([...read].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('show every twtr metric somewhere on the dashboard', () => {
    const shown = new Set(
      dashboard.panels.flatMap((panel: any) => (panel.targets ?? []).flatMap((target: any) => metricsIn(target.expr))),
    );
    expect([...exported].filter((name) => name.startsWith('twtr_') && !shown.has(name))).toEqual([]);
  });

  it('each metric has help text', () => {
    for (const metric of registry.getMetricsAsArray()) expect((metric as any).help, metric.name).toMatch(/\S{3}/);
  });
});

describe('a label a client chooses', () => {
  it('keeps the known values and folds every other into "other"', () => {
    const label = knownLabel(['Feed', 'Profile']);
    const junk = Array.from({ length: 10_000 }, (_, index) => label(`Junk${index}`));
    expect(new Set([...junk, label('Feed'), label('Profile'), label(null), label(''), label(undefined)])).toEqual(
      new Set(['other', 'Feed', 'Profile', '(anonymous)']),
    );
    // Known names are not prefixes or patterns.
    expect([label('feed'), label('Feed '), label('FeedX')]).toEqual(['other', 'other', 'other']);
  });
});
