import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { ExternalSecret } from '@kubernetes-models/external-secrets/external-secrets.io/v1beta1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { crdShapeErrors } from '../fixtures/crd-shapes.js';

/**
 * No cluster here: each overlay is rendered with `kubectl kustomize`, every object validated against the Kubernetes
 * schemas (kubernetes-models) or the operators' CRD shapes, and the project's rules checked.
 */
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: any; annotations?: any };
  [key: string]: any;
};

const render = (overlay: string): Manifest[] =>
  parseAllDocuments(execFileSync('kubectl', ['kustomize', `k8s/${overlay}`], { encoding: 'utf8' })).map(
    (document) => document.toJS() as Manifest,
  );

type Model = new (data: any) => { validate(): void };
const models: Record<string, Model> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function validate(object: Manifest): void {
  const key = `${object.apiVersion}/${object.kind}`;
  if (key === 'external-secrets.io/v1/ExternalSecret') {
    // v1 keeps v1beta1's shape for every field used here (the schema package ships v1beta1).
    new ExternalSecret({ ...object, apiVersion: 'external-secrets.io/v1beta1' } as never).validate();
    return;
  }
  const Model = models[key];
  // kustomize folds long base64 values over lines; the API server's decoder skips the line breaks.
  if (object.kind === 'Secret')
    object = {
      ...object,
      data: Object.fromEntries(Object.entries(object.data ?? {}).map(([k, v]) => [k, String(v).replace(/\s/g, '')])),
    };
  if (Model) return new Model(object).validate();
  const errors = crdShapeErrors(object);
  if (errors === undefined) throw new Error(`no schema for ${key}`);
  if (errors.length) throw new Error(errors.join('; '));
}

const podSpecOf = (object: Manifest) => object.spec?.template?.spec;
const containersOf = (object: Manifest) => [
  ...(podSpecOf(object)?.initContainers ?? []),
  ...(podSpecOf(object)?.containers ?? []),
];
const TWTR_SERVICES = ['router', ...SUBGRAPH_NAMES];
/** Every twtr Deployment: the services, and the feed's fan-out workers. */
const TWTR_DEPLOYMENTS = [...TWTR_SERVICES, 'feed-fanout'];

describe.each(['overlays/dev', 'overlays/production'])('k8s/%s', (overlay) => {
  const objects = render(overlay);
  const deployments = objects.filter((object) => object.kind === 'Deployment');
  const named = (kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata.name === name)!;

  it('renders only valid objects (Kubernetes schemas, the operators’ CRD shapes)', () => {
    for (const object of objects) expect(() => validate(object), `${object.kind}/${object.metadata.name}`).not.toThrow();
  });

  it('runs every service as a probed, resource-bounded, non-root, read-only container with a pinned image', () => {
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([...TWTR_DEPLOYMENTS].sort());
    for (const workload of objects.filter((object) => podSpecOf(object))) {
      const where = `${workload.kind}/${workload.metadata.name}`;
      expect(podSpecOf(workload).securityContext?.runAsNonRoot, where).toBe(true);
      for (const container of containersOf(workload)) {
        expect(container.image, where).toMatch(/:[0-9][\w.-]*$/);
        expect(container.image, where).not.toMatch(/:latest$/);
        expect(container.resources?.requests?.memory && container.resources?.limits?.memory, where).toBeTruthy();
        expect(container.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
      // Long-running containers have startup, readiness and liveness probes (init containers and Jobs run to completion).
      if (workload.kind !== 'Job')
        for (const container of podSpecOf(workload).containers)
          expect([container.startupProbe, container.readinessProbe, container.livenessProbe].every(Boolean), where).toBe(true);
    }
    for (const deployment of deployments) {
      const [service] = podSpecOf(deployment).containers;
      expect([service.startupProbe, service.readinessProbe, service.livenessProbe].map((probe) => probe.httpGet.path)).toEqual([
        '/healthz',
        '/readyz',
        '/healthz',
      ]);
      // The new version serves only once its migrations are applied.
      expect(podSpecOf(deployment).initContainers.map((container: any) => container.command.join(' '))).toEqual([
        'node dist/tools/migrate.js --wait',
      ]);
    }
  });

  it('probes the router on its operator port, which only Prometheus reaches and no Service exposes', () => {
    const router = named('Deployment', 'router');
    const [container] = podSpecOf(router).containers;
    const config = named('ConfigMap', 'twtr-config').data;
    const portNamed = (name: string) => container.ports.find((port: any) => port.name === name)?.containerPort;
    expect([portNamed('http'), portNamed('operator')]).toEqual([Number(config.ROUTER_PORT), Number(config.ROUTER_OPERATOR_PORT)]);
    expect(config.ROUTER_OPERATOR_BIND_ADDRESS).toBe('0.0.0.0');
    expect(
      [container.startupProbe, container.readinessProbe, container.livenessProbe].map((probe) => probe.httpGet.port),
    ).toEqual(['operator', 'operator', 'operator']);
    // Subgraphs keep theirs beside /graphql.
    for (const name of SUBGRAPH_NAMES)
      expect(podSpecOf(named('Deployment', name)).containers[0].readinessProbe.httpGet.port, name).toBe('http');
    expect(named('Service', 'router').spec.ports.map((port: any) => port.targetPort)).toEqual(['http']);
    const labels = router.spec.template.metadata.labels;
    const rules = objects
      .filter((object) => object.kind === 'NetworkPolicy' && object.spec.ingress)
      .filter(
        ({ spec: { podSelector } }) =>
          Object.entries(podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
          (podSelector.matchExpressions ?? []).every((expression: any) => expression.values.includes(labels[expression.key])),
      )
      .flatMap((policy) => policy.spec.ingress);
    // A rule without ports admits every port.
    const admitting = (port: string) =>
      rules.filter((rule: any) => !rule.ports || rule.ports.some((p: any) => p.port === port)).flatMap((rule: any) => rule.from);
    expect(admitting('operator')).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
    expect(admitting('http')).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
  });

  it('runs fan-out workers apart from the feed, reachable by nothing but Prometheus', () => {
    const queuesOf = (name: string) =>
      podSpecOf(named('Deployment', name)).containers[0].env.find((variable: any) => variable.name === 'FEED_QUEUES')?.value;
    expect([queuesOf('feed'), queuesOf('feed-fanout')]).toEqual(['feed', 'feed.fanout']);
    expect(podSpecOf(named('Deployment', 'feed-fanout')).containers[0].command).toEqual(
      podSpecOf(named('Deployment', 'feed')).containers[0].command,
    );
    const workerLabels = named('Deployment', 'feed-fanout').spec.template.metadata.labels;
    const selects = (selector: any) =>
      Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => workerLabels[key] === value) &&
      (selector?.matchExpressions ?? []).every((expression: any) => expression.values.includes(workerLabels[expression.key]));
    expect(objects.filter((object) => object.kind === 'Service' && selects({ matchLabels: object.spec.selector }))).toEqual([]);
    const sources = objects
      .filter((object) => object.kind === 'NetworkPolicy' && object.spec.ingress && selects(object.spec.podSelector))
      .flatMap((policy) => policy.spec.ingress.flatMap((rule: any) => rule.from));
    expect(sources).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
  });

  it('runs each release’s migrations in a Job of its own (a Job’s pod template cannot be changed by an apply)', () => {
    const [job] = objects.filter((object) => object.kind === 'Job');
    const tag = podSpecOf(job).containers[0].image.split(':').at(-1);
    expect(job.metadata.name).toBe(`twtr-migrate-${tag}`);
    expect(podSpecOf(job).containers[0].command).toEqual(['node', 'dist/tools/migrate.js']);
  });

  it('holds no literal secret: configuration comes from the ConfigMap, secrets from the twtr-secrets Secret', () => {
    const secretish = /SECRET|PASSWORD|TOKEN|KEY|AMQP_URL/;
    for (const workload of objects.filter((object) => podSpecOf(object)))
      for (const container of containersOf(workload))
        for (const variable of container.env ?? [])
          expect(secretish.test(variable.name) && 'value' in variable, `${workload.metadata.name} ${variable.name}`).toBe(false);
    const config = named('ConfigMap', 'twtr-config');
    expect(Object.keys(config.data).filter((key) => secretish.test(key))).toEqual([]);
    expect(config.data).toMatchObject({ APOLLO_TELEMETRY_DISABLED: 'true', NODE_ENV: 'production' });
    for (const deployment of deployments)
      expect(
        podSpecOf(deployment).containers[0].envFrom.map((source: any) => source.secretRef?.name ?? source.configMapRef.name),
      ).toEqual(['twtr-config', expect.stringMatching(/^twtr-secrets(-\w+)?$/)]);
    // Only dev generates Secrets, from files marked development-only.
    const secrets = objects.filter((object) => object.kind === 'Secret');
    if (overlay === 'overlays/production') expect(secrets).toEqual([]);
    for (const file of ['dev-secrets.env', 'dev-rabbitmq.env'])
      expect(readFileSync(`k8s/overlays/dev/${file}`, 'utf8')).toMatch(/^# DEVELOPMENT-ONLY/);
  });

  it('denies by default and admits each subgraph from the router only (and Prometheus to /metrics)', () => {
    const policies = objects.filter((object) => object.kind === 'NetworkPolicy');
    expect(named('NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const selects = (policy: Manifest, labels: Record<string, string>) =>
      Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
    for (const name of SUBGRAPH_NAMES) {
      const labels = podSpecOf(named('Deployment', name)) && named('Deployment', name).spec.template.metadata.labels;
      const admitting = policies.filter((policy) => policy.spec.ingress && selects(policy, labels));
      const sources = admitting.flatMap((policy) => policy.spec.ingress.flatMap((rule: any) => rule.from));
      expect(sources, name).toEqual(
        expect.arrayContaining([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'router' } } }]),
      );
      for (const source of sources)
        expect([
          JSON.stringify({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'router' } } }),
          JSON.stringify({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }),
        ]).toContain(JSON.stringify(source));
    }
    // Cassandra and RabbitMQ take client connections from twtr's pods only.
    for (const policy of ['cassandra-from-twtr', 'rabbitmq-from-twtr']) {
      const clientRule = named('NetworkPolicy', policy).spec.ingress[0];
      expect(clientRule.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'twtr' } } }]);
    }
  });
});

describe('k8s/overlays/dev', () => {
  const objects = render('overlays/dev');

  it('runs single-node Cassandra and RabbitMQ StatefulSets with volumes, and one replica of each service', () => {
    const statefulSets = objects.filter((object) => object.kind === 'StatefulSet');
    expect(statefulSets.map((set) => [set.metadata.name, set.spec.replicas, set.spec.volumeClaimTemplates.length])).toEqual([
      ['cassandra', 1, 1],
      ['rabbitmq', 1, 1],
    ]);
    for (const deployment of objects.filter((object) => object.kind === 'Deployment')) expect(deployment.spec.replicas).toBe(1);
    expect(objects.every((object) => object.kind === 'Namespace' || object.metadata.namespace === 'twtr-dev')).toBe(true);
  });
});

describe('k8s/overlays/production', () => {
  const objects = render('overlays/production');
  const ofKind = (kind: string) => objects.filter((object) => object.kind === kind);

  it('scales the router and every subgraph with an HPA, guards them with PDBs and spreads them over zones and nodes', () => {
    expect(
      ofKind('HorizontalPodAutoscaler')
        .map((hpa) => hpa.spec.scaleTargetRef.name)
        .sort(),
    ).toEqual([...TWTR_DEPLOYMENTS].sort());
    expect(
      ofKind('PodDisruptionBudget')
        .map((pdb) => pdb.spec.selector.matchLabels['app.kubernetes.io/name'])
        .sort(),
    ).toEqual([...TWTR_DEPLOYMENTS].sort());
    for (const deployment of ofKind('Deployment')) {
      // The HPA owns the replica count; an apply must not reset it.
      expect(deployment.spec.replicas).toBeUndefined();
      expect(podSpecOf(deployment).topologySpreadConstraints.map((constraint: any) => constraint.topologyKey)).toEqual([
        'topology.kubernetes.io/zone',
        'kubernetes.io/hostname',
      ]);
    }
  });

  it('uses the operators for Cassandra (3 nodes, NetworkTopologyStrategy RF 3) and RabbitMQ (3 nodes)', () => {
    const [datacenter] = ofKind('CassandraDatacenter');
    const config = objects.find((object) => object.metadata.name === 'twtr-config')!;
    expect(datacenter.spec.size).toBe(3);
    expect(config.data.CASSANDRA_REPLICATION).toBe(`{'class': 'NetworkTopologyStrategy', '${datacenter.metadata.name}': 3}`);
    expect(config.data.CASSANDRA_LOCAL_DC).toBe(datacenter.metadata.name);
    expect(config.data.CASSANDRA_CONTACT_POINTS).toBe(`${datacenter.spec.clusterName}-${datacenter.metadata.name}-service`);
    expect(ofKind('RabbitmqCluster').map((cluster) => cluster.spec.replicas)).toEqual([3]);
    expect(ofKind('ExternalSecret').map((secret) => secret.spec.target.name)).toEqual(['twtr-secrets']);
  });

  it('exposes only /graphql through an Ingress that passes websocket upgrades to the router', () => {
    const [ingress] = ofKind('Ingress');
    expect(ingress.spec.rules[0].http.paths).toEqual([
      { path: '/graphql', pathType: 'Exact', backend: { service: { name: 'router', port: { name: 'http' } } } },
    ]);
    // ingress-nginx upgrades websockets by itself over HTTP/1.1; snippets are refused by default (and a risk).
    const annotations = ingress.metadata.annotations;
    expect(Object.keys(annotations).filter((key) => key.includes('snippet'))).toEqual([]);
    expect(annotations['nginx.ingress.kubernetes.io/proxy-http-version']).toBe('1.1');
    for (const timeout of ['proxy-read-timeout', 'proxy-send-timeout'])
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${timeout}`]), timeout).toBeGreaterThanOrEqual(3600);
  });

  it('ships the Grafana dashboard for the sidecar, scrape targets and alert rules', () => {
    const dashboard = objects.find((object) => object.metadata.name === 'twtr-grafana-dashboard')!;
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['twtr-dashboard.json']).uid).toBe('twtr-overview');
    // Every twtr pod scraped once: the router on its operator port, the others beside /graphql.
    const scraped = ofKind('PodMonitor').flatMap((monitor) => {
      const { selector, podMetricsEndpoints } = monitor.spec;
      const names = selector.matchLabels?.['app.kubernetes.io/name'] ?? selector.matchExpressions[0].values;
      return [names].flat().map((name: string) => [name, podMetricsEndpoints.map((e: any) => `${e.port} ${e.path}`)]);
    });
    expect(Object.fromEntries(scraped)).toEqual(
      Object.fromEntries(TWTR_DEPLOYMENTS.map((name) => [name, [name === 'router' ? 'operator /metrics' : 'http /metrics']])),
    );
    expect(scraped).toHaveLength(TWTR_DEPLOYMENTS.length);
    expect(ofKind('PrometheusRule')[0].spec.groups.flatMap((group: any) => group.rules.map((rule: any) => rule.alert))).toEqual([
      'TwtrDeadLetters',
      'TwtrOutboxLagging',
      'TwtrConsumerNotConsuming',
      'TwtrNoConsumers',
      'TwtrErrorRate',
      'TwtrNotReady',
    ]);
  });
});
