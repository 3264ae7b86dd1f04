import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * No cluster here: render the kustomize overlays (the subset of kustomize they use: resources, namespace, images),
 * validate every object against the Kubernetes schemas, and check the project's own rules.
 */
const K8S = new URL('../k8s/', import.meta.url).pathname;
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: any };

function render(dir: string): Manifest[] {
  const kustomization = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0].toJS();
  const objects = (kustomization.resources as string[]).flatMap((resource) =>
    resource.endsWith('.yaml')
      ? parseAllDocuments(readFileSync(join(dir, resource), 'utf8')).map((doc) => doc.toJS() as Manifest)
      : render(join(dir, resource)),
  );
  for (const object of objects) {
    if (kustomization.namespace && object.kind !== 'Namespace') object.metadata.namespace = kustomization.namespace;
    for (const container of podSpec(object)?.containers ?? []) {
      const [name, tag] = container.image.split(':');
      const rule = (kustomization.images ?? []).find((image: { name: string }) => image.name === name);
      if (rule) container.image = `${rule.newName ?? name}:${rule.newTag ?? tag}`;
    }
  }
  return objects;
}

const podSpec = (object: Manifest) => object.spec?.template?.spec;
const models: Record<string, new (data: any) => { validate(): void }> = { Deployment, Job, Service, ConfigMap, Namespace };

describe.each(['base', 'overlays/production'])('k8s/%s', (overlay) => {
  const objects = render(join(K8S, overlay));

  it('renders only valid Kubernetes objects, and no Secret', () => {
    for (const object of objects) {
      expect(Object.keys(models), `${object.kind}/${object.metadata.name}`).toContain(object.kind);
      expect(() => new models[object.kind](object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
    }
  });

  it('runs every service as a probed, resource-bounded, non-root Deployment with a pinned image', () => {
    const deployments = objects.filter((object) => object.kind === 'Deployment');
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([
      'feed',
      'follows',
      'router',
      'tweets',
      'users',
    ]);
    for (const deployment of deployments) {
      const spec = podSpec(deployment);
      expect(spec.securityContext.runAsNonRoot, deployment.metadata.name).toBe(true);
      for (const container of spec.containers) {
        // Readiness follows the dependencies (Cassandra, RabbitMQ, subgraphs); liveness only the process.
        expect(
          [container.readinessProbe?.httpGet?.path, container.livenessProbe?.httpGet?.path],
          deployment.metadata.name,
        ).toEqual(['/readyz', '/healthz']);
        expect(container.resources.requests.memory && container.resources.limits.memory).toBeTruthy();
        expect(container.image).toMatch(/:[0-9][\w.-]*$/);
        expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(container.envFrom).toEqual([{ configMapRef: { name: 'twtr-config' } }, { secretRef: { name: 'twtr-secrets' } }]);
      }
    }
  });

  it('disables Apollo telemetry and uses production replication', () => {
    const config = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === 'twtr-config')!;
    // Subgraphs bind loopback by default; in a pod they must be reachable by the router and the kubelet's probes.
    expect(config.data).toMatchObject({
      APOLLO_TELEMETRY_DISABLED: 'true',
      NODE_ENV: 'production',
      SUBGRAPH_BIND_ADDRESS: '0.0.0.0',
    });
    expect(config.data.CASSANDRA_REPLICATION).toContain('NetworkTopologyStrategy');
    expect(config.data.APOLLO_KEY).toBeUndefined();
  });
});

describe('k8s/overlays/production', () => {
  it('puts everything in the twtr namespace with the registry image', () => {
    const objects = render(join(K8S, 'overlays/production'));
    expect(objects.filter((object) => object.kind !== 'Namespace').every((object) => object.metadata.namespace === 'twtr')).toBe(
      true,
    );
    const images = objects
      .flatMap((object) => podSpec(object)?.containers ?? [])
      .map((container: { image: string }) => container.image);
    expect(new Set(images)).toEqual(new Set(['registry.example.com/twtr:0.1.0']));
  });
});
