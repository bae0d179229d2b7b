/**
 * deploy/kubernetes: each kustomization renders with the real `kubectl kustomize`;
 * every agent configuration in its ConfigMaps passes the real `warden config check`;
 * probes, ports, security contexts, resources and budgets agree with the configs;
 * the PrometheusRule is the one generated from deploy/prometheus; and the embedded
 * pod's ConfigMaps, projected as the kubelet projects them, run a real agent whose
 * probe paths answer 200 and which hot-reloads an edit of the Rego ConfigMap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { PROJECT_ROOT } from '../../src/project.js';
import { warden } from '../helpers/cli.js';
import { tempDir } from '../helpers/fs.js';
import { writeConfigMap } from '../helpers/kubelet.js';
import { WardenProcess, startAgentProcess } from '../helpers/processes.js';
import { eventually } from '../helpers/wait.js';

// The rendered manifests are untyped YAML, walked here as the API server reads them: typing
// every Kubernetes field would be longer than the checks.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const K8S = join(PROJECT_ROOT, 'deploy', 'kubernetes');
const OVERLAYS = ['embedded', 'sidecar', 'pack-server'] as const;
const HEALTH_PATHS = new Set(['/healthz', '/readyz', '/health']); // src/http/health.ts
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const skip = kubectl ? false : 'kubectl is not installed: `kubectl kustomize` cannot render the manifests';
if (!kubectl) process.stderr.write(`test/deploy/kubernetes.test.ts skipped: ${skip}\n`);

function render(overlay: string): Obj[] {
  const res = spawnSync('kubectl', ['kustomize', join(K8S, overlay)], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  return parseAllDocuments(res.stdout).map((d) => d.toJS() as Obj);
}
const rendered = new Map<string, Obj[]>(kubectl ? OVERLAYS.map((o) => [o, render(o)]) : []);
const of = (overlay: string, kind: string): Obj[] => (rendered.get(overlay) ?? []).filter((r) => r.kind === kind);
const podContainers = (d: Obj): Obj[] => [
  ...((d.spec.template.spec.initContainers as Obj[] | undefined) ?? []),
  ...(d.spec.template.spec.containers as Obj[]),
];

// The agent configuration a container runs: the ConfigMap mounted at /etc/warden/config.yaml.
function agentConfigOf(overlay: string, deployment: Obj, container: Obj): { text: string; config: Obj } | undefined {
  const mount = (container.volumeMounts as Obj[] | undefined)?.find((m) => m.mountPath === '/etc/warden/config.yaml');
  if (!mount) return undefined;
  const volume = (deployment.spec.template.spec.volumes as Obj[]).find((v) => v.name === mount.name);
  const cm = of(overlay, 'ConfigMap').find((c) => c.metadata.name === volume?.configMap?.name);
  const text = cm?.data?.[mount.subPath as string] as string;
  assert.ok(text, `${overlay}: no ConfigMap key for ${mount.name}/${mount.subPath}`);
  return { text, config: parse(text) as Obj };
}

describe('deploy/kubernetes manifests', { skip }, () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      it('renders with kubectl kustomize: a Deployment, a Service and a PodDisruptionBudget selecting its pods', () => {
        const [deployment] = of(overlay, 'Deployment');
        assert.ok(deployment);
        assert.equal(of(overlay, 'Service').length, 1);
        const labels = deployment.spec.template.metadata.labels as Obj;
        for (const pdb of of(overlay, 'PodDisruptionBudget')) {
          for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Obj)) assert.equal(labels[k], v);
        }
        assert.equal(of(overlay, 'PodDisruptionBudget').length, 1);
        for (const svc of of(overlay, 'Service')) {
          for (const [k, v] of Object.entries(svc.spec.selector as Obj)) assert.equal(labels[k], v);
          const names = new Set(podContainers(deployment).flatMap((c) => (c.ports as Obj[]).map((p) => p.name)));
          for (const p of svc.spec.ports as Obj[]) assert.ok(names.has(p.targetPort), `${p.targetPort} is a pod port`);
        }
      });

      it('runs every container non-root, read-only, without privileges, with requests and writable volumes', () => {
        for (const d of of(overlay, 'Deployment')) {
          const pod = d.spec.template.spec as Obj;
          assert.equal(pod.securityContext.runAsNonRoot, true);
          assert.equal(pod.securityContext.runAsUser, 10001);
          assert.equal(pod.automountServiceAccountToken, false);
          for (const c of podContainers(d)) {
            assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
            assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
            assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
            assert.ok(c.resources.requests.cpu && c.resources.requests.memory, `${c.name}: requests`);
            const agent = agentConfigOf(overlay, d, c);
            if (!agent) continue;
            // The data dir and /tmp (opa build, OPA's socket fallback) are volumes, not the root filesystem.
            for (const path of [agent.config.data_dir as string, '/tmp']) {
              const mount = (c.volumeMounts as Obj[]).find((m) => m.mountPath === path);
              assert.ok(mount && mount.readOnly !== true, `${c.name}: ${path} is a writable volume`);
              const volume = (pod.volumes as Obj[]).find((v) => v.name === mount.name);
              assert.ok(volume?.emptyDir ?? volume?.persistentVolumeClaim, `${path}: emptyDir or claim`);
            }
          }
        }
      });

      it('passes `warden config check` for every embedded agent configuration; probes use its port and served paths', () => {
        const dir = tempDir();
        let checked = 0;
        for (const d of of(overlay, 'Deployment')) {
          for (const c of podContainers(d)) {
            const agent = agentConfigOf(overlay, d, c);
            const probes = ['startupProbe', 'readinessProbe', 'livenessProbe'].map((p) => c[p] as Obj | undefined);
            if (!agent) {
              // Not an agent (the pack server, the service next to the sidecar): a probe, if any, is a TCP check.
              for (const p of probes) if (p) assert.ok(p.tcpSocket, `${c.name}: no HTTP health route to probe`);
              continue;
            }
            const file = join(dir, `${overlay}-${c.name}.yaml`);
            writeFileSync(file, agent.text);
            const res = warden(['config', 'check', file]);
            assert.equal(res.status, 0, res.stderr);
            assert.match(res.stdout, /^config ok: /);
            checked += 1;
            const port = Number(/:(\d+)$/.exec(agent.config.listen as string)?.[1]);
            assert.ok(!(agent.config.listen as string).startsWith('127.'), 'listen reaches the pod IP');
            const portOf = (name: string | number): number =>
              typeof name === 'number' ? name : (c.ports as Obj[]).find((p) => p.name === name)?.containerPort;
            const [startup, readiness, liveness] = probes;
            assert.equal(readiness?.httpGet.path, '/readyz');
            assert.equal(startup?.httpGet.path, '/readyz');
            assert.equal(liveness?.httpGet.path, '/healthz');
            for (const p of probes) {
              assert.ok(HEALTH_PATHS.has(p?.httpGet.path as string));
              assert.equal(portOf(p?.httpGet.port as string), port, `${c.name}: probe port = listen port`);
            }
            // The Service's `warden` port, which the ServiceMonitor scrapes, is the agent's.
            const svc = of(overlay, 'Service')[0] as Obj;
            assert.equal(svc.metadata.labels['warden.dev/scrape'], 'true');
            assert.equal(portOf((svc.spec.ports as Obj[]).find((p) => p.name === 'warden')?.targetPort), port);
          }
        }
        assert.equal(checked, overlay === 'pack-server' ? 0 : 1);
      });
    });
  }

  it('refuses a broken configuration through the same check (CONFIG_INVALID, exit 1)', () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(
      file,
      readFileSync(join(K8S, 'sidecar', 'warden.yaml'), 'utf8').replace('engine: opa', 'engine: opaa'),
    );
    const res = warden(['config', 'check', file]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^warden: CONFIG_INVALID: .*\n {2}engine: /);
  });

  it('ships the PrometheusRule generated from deploy/prometheus, up to date, to both agent kustomizations', () => {
    const gen = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'gen-prometheus-rule.mjs'), '--check']);
    assert.equal(gen.status, 0, gen.stderr.toString());
    const rules = parse(readFileSync(join(PROJECT_ROOT, 'deploy', 'prometheus', 'warden-alerts.yml'), 'utf8')) as Obj;
    for (const overlay of ['embedded', 'sidecar']) {
      const [rule] = of(overlay, 'PrometheusRule');
      assert.deepEqual(rule?.spec.groups, rules.groups);
      assert.equal(of(overlay, 'ServiceMonitor')[0]?.spec.endpoints[0].path, '/metrics');
    }
    assert.equal(of('pack-server', 'ServiceMonitor').length, 0, 'the pack server has no /metrics');
  });

  it('mounts the SignalProcessing policies of examples/signalprocessing, byte for byte', () => {
    const cm = of('embedded', 'ConfigMap').find((c) => c.metadata.name === 'kubernaut-rego-policies') as Obj;
    for (const name of ['priority.rego', 'environment.rego', 'labels.rego', 'signalprocessing_test.rego'])
      assert.equal(cm.data[name], readFileSync(join(PROJECT_ROOT, 'examples', 'signalprocessing', name), 'utf8'));
  });

  it('tags the Warden image with the package version', () => {
    const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as Obj).version as string;
    for (const overlay of ['sidecar', 'pack-server'])
      for (const d of of(overlay, 'Deployment'))
        for (const c of podContainers(d).filter((x) => (x.image as string).includes('/warden:')))
          assert.ok((c.image as string).endsWith(`/warden:${version}`), c.image);
  });

  describe('the embedded pod, projected as the kubelet does, runs a real agent', () => {
    after(() => WardenProcess.killAll());

    it('answers the probe paths with 200, decides, and hot-reloads an edit of the Rego ConfigMap', async () => {
      const root = tempDir('warden-pod-');
      const [d] = of('embedded', 'Deployment') as [Obj];
      const pod = d.spec.template.spec as Obj;
      const [c] = pod.containers as [Obj];
      const at = (p: string): string => join(root, p);
      const policiesMount = (c.volumeMounts as Obj[]).find((m) => m.mountPath === '/etc/kubernaut/policies') as Obj;
      const policiesVolume = (pod.volumes as Obj[]).find((v) => v.name === policiesMount.name) as Obj;
      const policies = of('embedded', 'ConfigMap').find((m) => m.metadata.name === policiesVolume.configMap.name);
      await writeConfigMap(at(policiesMount.mountPath as string), policies?.data as Record<string, string>);
      // The operator replaces the placeholder token (REPLACE-ME is refused: too short).
      await mkdir(at('/etc/warden/secrets'), { recursive: true });
      await writeFile(at('/etc/warden/secrets/admin.token'), 'a-real-token-of-32-characters-xx');
      // The mounted configuration, with the pod's absolute paths under root, a free loopback port and the pinned opa.
      const config = agentConfigOf('embedded', d, c)?.config as Obj;
      const rooted = JSON.parse(JSON.stringify(config), (_k, v: unknown) =>
        typeof v === 'string' && /^\/(etc|var)\//.test(v) ? at(v) : v,
      ) as Obj;
      Object.assign(rooted, { listen: '127.0.0.1:0', opa_path: join(PROJECT_ROOT, '.tools', 'bin', 'opa') });
      const file = at('/etc/warden/config.yaml');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, stringify(rooted));

      const { url } = await startAgentProcess(file);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const res = await fetch(`${url}${c[probe].httpGet.path as string}`);
        assert.equal(res.status, 200, probe);
      }
      const priority = async (): Promise<unknown> => {
        const res = await fetch(`${url}/v1/data/priority/priority`, {
          method: 'POST',
          body: JSON.stringify({ input: { severity: 'debug', environment: 'production' } }),
        });
        return ((await res.json()) as Obj).result;
      };
      assert.equal(await priority(), 'P2');
      const data = { ...(policies?.data as Record<string, string>) };
      data['priority.rego'] = (data['priority.rego'] ?? '').replace(
        'default priority := "P2"',
        'default priority := "P3"',
      );
      data['signalprocessing_test.rego'] = (data['signalprocessing_test.rego'] ?? '').replace(
        'test_unknown_severity_falls_back_to_p2 if {\n\tpriority.priority == "P2"',
        'test_unknown_severity_falls_back_to_p2 if {\n\tpriority.priority == "P3"',
      );
      await writeConfigMap(at(policiesMount.mountPath as string), data);
      await eventually(async () => (await priority()) === 'P3', { timeoutMs: 30_000, what: 'the edited default' });
    });
  });
});
