import { deploymentReplicas, type Layout, type NamespaceLayout } from './layout.js';
import { appName, nodeName, podSuffix, templateHash } from './names.js';
import { hash2, hash3, hex8, mix32, uuidFor } from './random.js';

/**
 * The objects themselves, written straight to JSON text from (seed, position): realistic shapes
 * (metadata with managedFields and, where kubectl would have left one, a last-applied
 * annotation; spec and status as the controllers fill them) at 1.5-3 KB each, built as strings
 * because the server must produce tens of thousands per second.
 *
 * Every value comes from a fixed alphabet without quotes or backslashes, so only the embedded
 * last-applied JSON needs escaping.
 *
 * Key order is the real server's: Go structs (built-in types, ObjectMeta, PartialObjectMetadata)
 * in field order, Go maps (labels, annotations, data, and every object of a custom resource,
 * which is stored unstructured) with their keys sorted, as encoding/json writes them.
 */

/** Where an object is and what has happened to it. */
export interface ObjectContext {
  layout: Layout;
  /** The namespace of a namespaced object. */
  ns: NamespaceLayout | undefined;
  /** The object's number within its namespace (or within its type when cluster-scoped), in name order. */
  j: number;
  /** Unique among all objects of the cluster. */
  id: number;
  /** Varies uids from one seed to the next. */
  uidSalt: number;
  resourceVersion: number;
  /** How often mutate() changed the object: 0 as generated. */
  round: number;
  /** The base64 text every Secret value starts with. */
  secretMarker: string;
}

/**
 * How an object is written: alone (a GET), as an item of a list, or as the PartialObjectMetadata
 * the server sends when asked for metadata only.
 */
export type ObjectForm = 'object' | 'item' | 'metadata';

/** A generated type: the name of its j-th object, and the object as JSON. */
export interface ObjectSource {
  name(layout: Layout, ns: NamespaceLayout | undefined, j: number): string;
  json(o: ObjectContext, form: ObjectForm): string;
}

/** 2024-03-01T00:00:00Z, in seconds: every timestamp is this plus a hashed offset, so runs agree. */
const CLUSTER_BIRTH = Date.UTC(2024, 2, 1) / 1000;
const DAY = 86_400;

/** Formatted days, by day number: formatting dates is a hot spot, and objects share few days. */
const days = new Map<number, string>();
/** 00 to 59: formatting numbers is slower than looking them up. */
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));

function timestamp(seconds: number): string {
  const day = Math.floor(seconds / DAY);
  let date = days.get(day);
  if (date === undefined) {
    date = new Date(day * DAY * 1000).toISOString().slice(0, 11);
    days.set(day, date);
  }
  const s = seconds - day * DAY;
  // Strings this short are joined by copying, so the time of day is one flat piece after the date.
  const time = `${PAD2[Math.floor(s / 3600)]}:${PAD2[Math.floor(s / 60) % 60]}:${PAD2[s % 60]}Z`;
  return date + time;
}

/** 64 hex digits, like an image digest or a container id. */
function digest(h: number): string {
  let out = '';
  for (let i = 0; i < 8; i++) out += hex8(hash2(h, i));
  return out;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The two base64 characters of each 12 bits, low 6 bits first: half the lookups and joins of one character at a time. */
const BASE64_PAIRS = Array.from({ length: 4096 }, (_, i) => BASE64[i & 63]! + BASE64[i >> 6]!);

/** `groups` * 4 characters of base64 text; any such text decodes, so it can follow other base64 text. */
function base64Text(h: number, groups: number): string {
  let out = '';
  for (let i = 0; i < groups; i++) {
    const v = hash2(h, i);
    out += BASE64_PAIRS[v & 4095]! + BASE64_PAIRS[(v >>> 12) & 4095]!;
  }
  return out;
}

/** The parts of ObjectMeta that differ by type; identity and versions come from the context. */
interface Meta {
  name: string;
  generateName?: string;
  generation?: number;
  /** The creation time, rendered. */
  created: string;
  /** Rendered `"key":"value"` pairs. */
  labels: string;
  /** Rendered `"key":"value"` pairs, or '' for none. */
  annotations: string;
  /** A rendered array, or '' for none. */
  ownerReferences?: string;
  finalizers?: string;
  /** A rendered array. */
  managedFields: string;
}

/**
 * The rendered label pairs, with a changed object's round among them in key order. Keys and values
 * hold no comma, so the pairs split on commas.
 */
function labelsOf(o: ObjectContext, m: Meta): string {
  if (o.round === 0) return m.labels;
  return [...m.labels.split(','), `"kube-sim.example.com/round":"${o.round}"`].sort().join(',');
}

/**
 * ObjectMeta in the apiserver's field order, as built-in types and PartialObjectMetadata carry
 * it; a changed object carries its round as a label.
 */
function metadata(o: ObjectContext, m: Meta): string {
  const labels = labelsOf(o, m);
  return (
    `{"name":"${m.name}"${m.generateName ? `,"generateName":"${m.generateName}"` : ''}${o.ns ? `,"namespace":"${o.ns.name}"` : ''}` +
    `,"uid":"${uuidFor(o.id, o.uidSalt)}","resourceVersion":"${o.resourceVersion}"${m.generation !== undefined ? `,"generation":${m.generation}` : ''}` +
    `,"creationTimestamp":"${m.created}","labels":{${labels}}${m.annotations ? `,"annotations":{${m.annotations}}` : ''}` +
    `${m.ownerReferences ? `,"ownerReferences":${m.ownerReferences}` : ''}${m.finalizers ? `,"finalizers":${m.finalizers}` : ''},"managedFields":${m.managedFields}}`
  );
}

/**
 * ObjectMeta of a custom resource's object: an unstructured map, so its keys are sorted (and
 * those of its managedFields entries, which `managed(..., sorted)` writes).
 */
function sortedMetadata(o: ObjectContext, m: Meta): string {
  return (
    `{${m.annotations ? `"annotations":{${m.annotations}},` : ''}"creationTimestamp":"${m.created}"${m.finalizers ? `,"finalizers":${m.finalizers}` : ''}` +
    `${m.generateName ? `,"generateName":"${m.generateName}"` : ''}${m.generation !== undefined ? `,"generation":${m.generation}` : ''},"labels":{${labelsOf(o, m)}}` +
    `,"managedFields":${m.managedFields},"name":"${m.name}"${o.ns ? `,"namespace":"${o.ns.name}"` : ''}${m.ownerReferences ? `,"ownerReferences":${m.ownerReferences}` : ''}` +
    `,"resourceVersion":"${o.resourceVersion}","uid":"${uuidFor(o.id, o.uidSalt)}"}`
  );
}

/** One managedFields entry, with its time rendered: in field order, or with its keys sorted (in an unstructured object). */
function managed(
  manager: string,
  operation: 'Update' | 'Apply',
  apiVersion: string,
  time: string,
  fields: string,
  subresource?: string,
  sorted = false,
): string {
  if (sorted) {
    return `{"apiVersion":"${apiVersion}","fieldsType":"FieldsV1","fieldsV1":${fields},"manager":"${manager}","operation":"${operation}"${subresource ? `,"subresource":"${subresource}"` : ''},"time":"${time}"}`;
  }
  return `{"manager":"${manager}","operation":"${operation}","apiVersion":"${apiVersion}","time":"${time}","fieldsType":"FieldsV1","fieldsV1":${fields}${subresource ? `,"subresource":"${subresource}"` : ''}}`;
}

/**
 * The object in the given form. Like the real server, items of a built-in type's list carry no
 * kind or apiVersion (only the list does), while a custom resource, stored unstructured, always
 * carries both, apiVersion first.
 */
function envelope(apiVersion: string, kind: string, meta: string, form: ObjectForm, body: () => string, custom = false): string {
  if (form === 'metadata') return `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":${meta}}`;
  if (custom) return `{"apiVersion":"${apiVersion}","kind":"${kind}","metadata":${meta},${body()}}`;
  return form === 'object' ? `{"kind":"${kind}","apiVersion":"${apiVersion}","metadata":${meta},${body()}}` : `{"metadata":${meta},${body()}}`;
}

/**
 * The text of `s` inside a JSON string, as JSON.stringify writes it: generated text holds no
 * control characters, so a quote or a backslash is all it can need to escape.
 */
function escaped(s: string): string {
  return s.includes('"') || s.includes('\\') ? JSON.stringify(s).slice(1, -1) : s;
}

/** Text already escaped to go inside a JSON string, which lastApplied takes as it is. */
class Escaped {
  constructor(readonly text: string) {}
}

/** A template's own text, escaped once per template: by its TemplateStringsArray, of which there is one per call site. */
const escapedTemplates = new WeakMap<TemplateStringsArray, string[]>();

/**
 * The kubectl.kubernetes.io/last-applied-configuration annotation kubectl apply leaves: the
 * manifest (written with sorted keys, as kubectl marshals it) as an escaped JSON string. A tag
 * for the manifest's template, which escapes the template's text once and, per object, only the
 * values that need it: escaping the whole manifest (JSON.stringify) was among the costliest
 * steps of making an object.
 */
function lastApplied(template: TemplateStringsArray, ...values: Array<string | number | Escaped>): string {
  let text = escapedTemplates.get(template);
  if (text === undefined) escapedTemplates.set(template, (text = template.map(escaped)));
  let out = `"kubectl.kubernetes.io/last-applied-configuration":"${text[0]}`;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    out += (value instanceof Escaped ? value.text : typeof value === 'string' ? escaped(value) : value) + text[i + 1]!;
  }
  // kubectl ends the manifest with a newline.
  return `${out}\\n"`;
}

/** Marks a hole in a Frame's text: a control character, which no generated text holds. */
const HOLE = '\u0000';

/**
 * Text that is the same for many objects but for a few values (times, mostly), rendered once
 * with HOLE where those go and kept as the pieces between them: filling them in joins a few long
 * pieces instead of the dozens of short ones the template is made of, which cost both when the
 * object is made and when the server writes it out (V8 joins long strings as ropes, which
 * writing walks piece by piece).
 */
class Frame {
  private readonly pieces: string[];

  constructor(text: string) {
    this.pieces = text.split(HOLE);
  }

  /** The text with its holes filled with `values`, in order. */
  fill(values: readonly string[]): string {
    let out = this.pieces[0]!;
    for (let i = 1; i < this.pieces.length; i++) out += values[i - 1]! + this.pieces[i]!;
    return out;
  }
}

const TIERS = ['api', 'cache', 'frontend', 'worker', 'batch'];
const SIDECAR_IMAGE = 'registry.example.com/platform/fluent-bit:2.2.0';
/** The sidecar's image by digest. */
const SIDECAR_IMAGE_ID = `${SIDECAR_IMAGE.replace(/:.*/, '')}@sha256:${digest(0xf1b)}`;
const TEAM_OF = (ns: NamespaceLayout): string => ns.name.split('-')[0]!;

/**
 * What every object named after app `a` of a namespace shares. Most types have one object per
 * app, and most of their forms use little of this, so what not all of them use is made when
 * first asked for.
 */
class App {
  readonly name: string;
  readonly tier: string;
  readonly port: number;
  private readonly hash: number;
  private templateHashText?: string;
  private podPrefixText?: string;
  private imageText?: string;
  private imageIdText?: string;
  private resourcesText?: string;
  private labelsText?: string;
  private escapedLabelsText?: Escaped;

  readonly team: string;

  constructor(
    private readonly ns: NamespaceLayout,
    private readonly a: number,
  ) {
    this.team = TEAM_OF(ns);
    this.hash = hash2(ns.salt, a);
    this.name = appName(a, ns.apps, ns.salt);
    this.tier = TIERS[this.hash % TIERS.length]!;
    this.port = 8080 + (this.hash % 4);
  }

  /** The pod-template-hash of the app's current ReplicaSet. */
  get templateHash(): string {
    return (this.templateHashText ??= templateHash(hash3(this.ns.salt, this.a, 7), 10));
  }

  /** The name of the app's current ReplicaSet and a dash: how its pods' names start (their generateName). */
  get podPrefix(): string {
    return (this.podPrefixText ??= `${this.name}-${this.templateHash}-`);
  }

  get image(): string {
    return (this.imageText ??= `registry.example.com/${this.team}/${this.name}:1.${this.hash % 17}.${(this.hash >>> 8) % 9}`);
  }

  /** The image by digest, as a container's status names it. */
  get imageId(): string {
    return (this.imageIdText ??= `registry.example.com/${this.team}/${this.name}@sha256:${digest(this.hash)}`);
  }

  /** The main container's resources. */
  get resources(): string {
    const h = this.hash;
    return (this.resourcesText ??= `{"limits":{"cpu":"${1 + (h % 4)}","memory":"${256 << (h % 4)}Mi"},"requests":{"cpu":"${100 + 50 * (h % 5)}m","memory":"${128 << (h % 3)}Mi"}}`);
  }

  /** The rendered label pairs of everything but pods. */
  get labels(): string {
    return (this.labelsText ??= `"app":"${this.name}","team":"${this.team}","tier":"${this.tier}"`);
  }

  /** Those escaped, for a last-applied manifest (a Deployment's has them twice). */
  get escapedLabels(): Escaped {
    return (this.escapedLabelsText ??= new Escaped(escaped(this.labels)));
  }
}

/** The last app made: objects are served in name order, so neighbours usually share their app. */
let lastApp: { ns: NamespaceLayout; a: number; app: App } | undefined;

function app(ns: NamespaceLayout, a: number): App {
  if (lastApp?.ns === ns && lastApp.a === a) return lastApp.app;
  const made = new App(ns, a);
  lastApp = { ns, a, app: made };
  return made;
}

/** What a namespaced object named after app `a` starts from: its namespace, app, hash and creation time (and that rendered). */
function basics(o: ObjectContext, a: number): { ns: NamespaceLayout; x: App; h: number; start: number; created: string } {
  const h = mix32(o.id ^ o.uidSalt);
  const start = CLUSTER_BIRTH + 30 * DAY + (hash2(h, 0xc7) % (300 * DAY));
  return { ns: o.ns!, x: app(o.ns!, a), h, start, created: timestamp(start) };
}

// --- Pods ---------------------------------------------------------------------------------

/** What the pods of one ReplicaSet share in their metadata. */
interface ReplicaSet {
  labels: string;
  /** Those of the pods that are annotated. */
  annotations: string;
  ownerReferences: string;
  /** Holes for a pod's creation and start. */
  managedFields: Frame;
}

/** The last ReplicaSet made: pods are listed ReplicaSet by ReplicaSet. */
let lastReplicaSet: { x: App; uidSalt: number; rs: ReplicaSet } | undefined;

/** The ReplicaSet of app `x` (number `a` of its namespace). */
function replicaSet(o: ObjectContext, x: App, a: number): ReplicaSet {
  if (lastReplicaSet?.x === x && lastReplicaSet.uidSalt === o.uidSalt) return lastReplicaSet.rs;
  const rsName = `${x.name}-${x.templateHash}`;
  const rsUid = uuidFor(hash2(o.ns!.salt, a), o.uidSalt ^ 0x5e7);
  const rs: ReplicaSet = {
    labels: `"app":"${x.name}","pod-template-hash":"${x.templateHash}","team":"${x.team}","tier":"${x.tier}"`,
    annotations: `"prometheus.io/port":"${x.port}","prometheus.io/scrape":"true"`,
    ownerReferences: `[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"${rsName}","uid":"${rsUid}","controller":true,"blockOwnerDeletion":true}]`,
    managedFields: new Frame(
      `[${managed('kube-controller-manager', 'Update', 'v1', HOLE, `{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{},"f:team":{},"f:tier":{}},"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"${rsUid}\\"}":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"${x.name}\\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{}}}}}`)},` +
        `${managed('kubelet', 'Update', 'v1', HOLE, `{"f:status":{"f:conditions":{},"f:containerStatuses":{},"f:phase":{},"f:podIP":{}}}`, 'status')}]`,
    ),
  };
  lastReplicaSet = { x, uidSalt: o.uidSalt, rs };
  return rs;
}

const pods: ObjectSource = {
  name(_layout, ns, j) {
    const a = Math.floor(j / ns!.replicas);
    const x = app(ns!, a);
    return x.podPrefix + podSuffix(j % ns!.replicas, ns!.replicas, hash2(ns!.salt, a));
  },
  json(o, form) {
    const a = Math.floor(o.j / o.ns!.replicas);
    const { ns, x, h, start, created } = basics(o, a);
    const started = timestamp(start + 9);
    const rs = replicaSet(o, x, a);
    const meta = metadata(o, {
      name: this.name(o.layout, ns, o.j),
      generateName: x.podPrefix,
      created,
      labels: rs.labels,
      annotations: h % 3 === 0 ? rs.annotations : '',
      ownerReferences: rs.ownerReferences,
      managedFields: rs.managedFields.fill([created, started]),
    });
    return envelope('v1', 'Pod', meta, form, () => {
      const node = nodeName(h % o.layout.nodes);
      const ip = `10.244.${(h >>> 8) & 255}.${(h >>> 16) & 255}`;
      const hostIp = `10.0.${(h % o.layout.nodes) >> 8}.${(h % o.layout.nodes) & 255}`;
      const token = `kube-api-access-${templateHash(h, 5)}`;
      const phase = h % 53 === 0 ? 'Pending' : 'Running';
      const ready = phase === 'Running' ? 'True' : 'False';
      const restarts = h % 29 === 0 ? (h >>> 5) % 7 : 0;
      // Half the pods run a log-shipping sidecar, as many clusters inject one.
      const sidecar = (h >>> 3) % 2 === 0;
      const state = phase === 'Running' ? `{"running":{"startedAt":"${started}"}}` : '{"waiting":{"reason":"ContainerCreating"}}';
      return (
        `"spec":{"volumes":[{"name":"config","configMap":{"name":"${x.name}-config","defaultMode":420}},{"name":"${token}","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}],` +
        `"containers":[{"name":"${x.name}","image":"${x.image}","ports":[{"name":"http","containerPort":${x.port},"protocol":"TCP"}],"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"POD_NAME","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"GOMAXPROCS","value":"${1 + (h % 4)}"}],` +
        `"resources":${x.resources},"volumeMounts":[{"name":"config","readOnly":true,"mountPath":"/etc/${x.name}"},{"name":"${token}","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],` +
        `"livenessProbe":{"httpGet":{"path":"/healthz","port":${x.port},"scheme":"HTTP"},"initialDelaySeconds":10,"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},` +
        `"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true}}${sidecar ? `,{"name":"log-shipper","image":"${SIDECAR_IMAGE}","resources":{"limits":{"cpu":"200m","memory":"128Mi"},"requests":{"cpu":"20m","memory":"32Mi"}},"volumeMounts":[{"name":"${token}","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}` : ''}],` +
        `"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"${x.name}","serviceAccount":"${x.name}","nodeName":"${node}","securityContext":{"runAsNonRoot":true,"runAsUser":10001},"schedulerName":"default-scheduler",` +
        `"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},` +
        `"status":{"phase":"${phase}","conditions":[{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"${started}"},{"type":"Ready","status":"${ready}","lastProbeTime":null,"lastTransitionTime":"${started}"},{"type":"ContainersReady","status":"${ready}","lastProbeTime":null,"lastTransitionTime":"${started}"},{"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":"${created}"}],` +
        `"hostIP":"${hostIp}","podIP":"${ip}","podIPs":[{"ip":"${ip}"}],"startTime":"${created}","containerStatuses":[{"name":"${x.name}","state":${state},"lastState":{},"ready":${ready === 'True'},"restartCount":${restarts},"image":"${x.image}",` +
        `"imageID":"${x.imageId}","containerID":"containerd://${digest(h)}","started":${ready === 'True'}}${sidecar ? `,{"name":"log-shipper","state":${state},"lastState":{},"ready":${ready === 'True'},"restartCount":0,"image":"${SIDECAR_IMAGE}","imageID":"${SIDECAR_IMAGE_ID}","containerID":"containerd://${digest(h ^ 1)}","started":${ready === 'True'}}` : ''}],"qosClass":"Burstable"}`
      );
    });
  },
};

// --- Deployments --------------------------------------------------------------------------

/** A Deployment's managedFields, by whether kubectl applied it (or helm installed it): holes for its creation and the end of its rollout. */
const DEPLOYMENT_FIELDS = [false, true].map(
  (applied) =>
    new Frame(
      `[${managed(applied ? 'kubectl-client-side-apply' : 'helm', 'Update', 'apps/v1', HOLE, `{"f:metadata":{"f:annotations":{".":{}${applied ? ',"f:kubectl.kubernetes.io/last-applied-configuration":{}' : ''}},"f:labels":{".":{},"f:app":{},"f:team":{},"f:tier":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{}},"f:spec":{"f:containers":{}}}}}`)},` +
        `${managed('kube-controller-manager', 'Update', 'apps/v1', HOLE, `{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}`, 'status')}]`,
    ),
);

const deployments: ObjectSource = {
  name: (_layout, ns, j) => appName(j, ns!.apps, ns!.salt),
  json(o, form) {
    const { ns, x, h, start, created } = basics(o, o.j);
    const replicas = deploymentReplicas(ns, o.j);
    const generation = 1 + (h % 6) + o.round;
    const container = `"name":"${x.name}","image":"${x.image}","ports":[{"name":"http","containerPort":${x.port},"protocol":"TCP"}]`;
    const applied = h % 2 === 0;
    const rolledOut = timestamp(start + 30);
    const meta = metadata(o, {
      name: x.name,
      generation,
      created,
      labels: x.labels,
      annotations:
        `"deployment.kubernetes.io/revision":"${generation}"` +
        (applied
          ? `,${lastApplied`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"labels":{${x.escapedLabels}},"name":"${x.name}","namespace":"${ns.name}"},"spec":{"replicas":${replicas},"selector":{"matchLabels":{"app":"${x.name}"}},"template":{"metadata":{"labels":{${x.escapedLabels}}},"spec":{"containers":[{"image":"${x.image}","name":"${x.name}","ports":[{"containerPort":${x.port},"name":"http","protocol":"TCP"}]}]}}}}`}`
          : ''),
      managedFields: DEPLOYMENT_FIELDS[Number(applied)]!.fill([created, rolledOut]),
    });
    return envelope('apps/v1', 'Deployment', meta, form, () => {
      // A changed Deployment was rolled out again, as `kubectl rollout restart` does.
      const restarted = o.round > 0 ? `,"annotations":{"kubectl.kubernetes.io/restartedAt":"${timestamp(start + o.round * DAY)}"}` : '';
      return (
        `"spec":{"replicas":${replicas},"selector":{"matchLabels":{"app":"${x.name}"}},"template":{"metadata":{"creationTimestamp":null,"labels":{${x.labels}}${restarted}},` +
        `"spec":{"containers":[{${container},"resources":${x.resources},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
        `"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}},` +
        `"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600},` +
        `"status":{"observedGeneration":${generation},"replicas":${replicas},"updatedReplicas":${replicas},"readyReplicas":${replicas},"availableReplicas":${replicas},` +
        `"conditions":[{"type":"Available","status":"True","lastUpdateTime":"${rolledOut}","lastTransitionTime":"${rolledOut}","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."},` +
        `{"type":"Progressing","status":"True","lastUpdateTime":"${rolledOut}","lastTransitionTime":"${created}","reason":"NewReplicaSetAvailable","message":"ReplicaSet \\"${x.name}-${x.templateHash}\\" has successfully progressed."}]}`
      );
    });
  },
};

// --- Services -----------------------------------------------------------------------------

/** A Service's managedFields, by whether kubectl applied it (or helm installed it): a hole for its creation. */
const SERVICE_FIELDS = [false, true].map(
  (applied) =>
    new Frame(
      `[${managed(applied ? 'kubectl-client-side-apply' : 'helm', 'Update', 'v1', HOLE, `{"f:metadata":{${applied ? '"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},' : ''}"f:labels":{".":{},"f:app":{},"f:team":{},"f:tier":{}}},"f:spec":{"f:internalTrafficPolicy":{},"f:ports":{".":{},"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:selector":{},"f:sessionAffinity":{},"f:type":{}}}`)}]`,
    ),
);

const services: ObjectSource = {
  name: (_layout, ns, j) => appName(j, ns!.apps, ns!.salt),
  json(o, form) {
    const { ns, x, h, created } = basics(o, o.j);
    const ip = `10.96.${(h >>> 8) & 255}.${h & 255}`;
    const applied = h % 3 !== 0;
    const meta = metadata(o, {
      name: x.name,
      created,
      labels: x.labels,
      annotations: applied
        ? lastApplied`{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"labels":{${x.escapedLabels}},"name":"${x.name}","namespace":"${ns.name}"},"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":${x.port}}],"selector":{"app":"${x.name}"}}}`
        : '',
      managedFields: SERVICE_FIELDS[Number(applied)]!.fill([created]),
    });
    // The applied spec, in field order, with what the apiserver fills in before the selector.
    return envelope(
      'v1',
      'Service',
      meta,
      form,
      () =>
        `"spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":${x.port}}],"clusterIP":"${ip}","clusterIPs":["${ip}"],"type":"ClusterIP","sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster","selector":{"app":"${x.name}"}},"status":{"loadBalancer":{}}`,
    );
  },
};

// --- ConfigMaps and Secrets ---------------------------------------------------------------

const CONFIG_KINDS = ['config', 'env'];
/** How many keys a ConfigMap's data has, at most (at least 2). */
const MAX_KEYS = 7;

/** A ConfigMap's managedFields, by whether kubectl applied it (or helm installed it) and by its number of keys: a hole for its creation. */
const CONFIGMAP_FIELDS = [false, true].map((applied) =>
  Array.from(
    { length: MAX_KEYS + 1 },
    (_, keys) =>
      new Frame(
        `[${managed(applied ? 'kubectl-client-side-apply' : 'helm', 'Update', 'v1', HOLE, `{"f:data":{".":{}${Array.from({ length: keys }, (_, k) => `,"f:key${k}":{}`).join('')}},"f:metadata":{"f:labels":{".":{},"f:app":{},"f:team":{},"f:tier":{}}}}`)}]`,
      ),
  ),
);

/** How many keys the data of the ConfigMap of hash `h` has. */
function keyCount(h: number): number {
  return 2 + (h % (MAX_KEYS - 1));
}

/**
 * The data pairs of the ConfigMap of app `x` and hash `h`, with quotes and line ends as given: as
 * JSON, or as they are escaped inside a JSON string.
 */
function configMapData(x: App, h: number, round: number, quote: string, newline: string): string {
  const keys = keyCount(h);
  let out = '';
  for (let k = 0; k < keys; k++) {
    const base = hash3(h, k, round);
    let value = '';
    for (let line = 0; line < 8 + ((h >>> k) % 12); line++) value += `${x.name}.setting${line}=${hex8(mix32(base + line))}${newline}`;
    out += `${k > 0 ? ',' : ''}${quote}key${k}${quote}:${quote}${value}${quote}`;
  }
  return out;
}

const configmaps: ObjectSource = {
  name: (_layout, ns, j) => `${app(ns!, j >> 1).name}-${CONFIG_KINDS[j & 1]}`,
  json(o, form) {
    const { ns, x, h, created } = basics(o, o.j >> 1);
    const name = this.name(o.layout, ns, o.j);
    const keys = keyCount(h);
    const applied = h % 10 === 0;
    const meta = metadata(o, {
      name,
      created,
      labels: x.labels,
      // Written escaped: escaping this much text afterwards would cost more than writing it.
      annotations: applied
        ? lastApplied`{"apiVersion":"v1","data":{${new Escaped(configMapData(x, h, o.round, '\\"', '\\\\n'))}},"kind":"ConfigMap","metadata":{"annotations":{},"labels":{${x.escapedLabels}},"name":"${name}","namespace":"${ns.name}"}}`
        : '',
      managedFields: CONFIGMAP_FIELDS[Number(applied)]![keys]!.fill([created]),
    });
    return envelope('v1', 'ConfigMap', meta, form, () => `"data":{${configMapData(x, h, o.round, '"', '\\n')}}`);
  },
};

/** In key order, as the server writes the `data` map. */
const SECRET_KEYS = ['password', 'token', 'username'];

/** A Secret's managedFields: a hole for its creation. */
const SECRET_FIELDS = new Frame(
  `[${managed('helm', 'Update', 'v1', HOLE, `{"f:data":{".":{},"f:password":{},"f:token":{},"f:username":{}},"f:metadata":{"f:labels":{".":{},"f:app":{},"f:team":{},"f:tier":{}}},"f:type":{}}`)}]`,
);

const secrets: ObjectSource = {
  name: (_layout, ns, j) => `${appName(j, ns!.apps, ns!.salt)}-credentials`,
  json(o, form) {
    const { ns, x, h, created } = basics(o, o.j);
    // Never a last-applied annotation: kubectl would copy the values into metadata, and the
    // marker must only ever be found in `data`.
    const meta = metadata(o, {
      name: this.name(o.layout, ns, o.j),
      created,
      labels: x.labels,
      annotations: '',
      managedFields: SECRET_FIELDS.fill([created]),
    });
    return envelope('v1', 'Secret', meta, form, () => {
      const data = SECRET_KEYS.map((key, k) => `"${key}":"${o.secretMarker}${base64Text(hash3(h, k, o.round), 4 + 40 * k)}"`).join(',');
      return `"data":{${data}},"type":"Opaque"`;
    });
  },
};

// --- Widgets (a CRD) ----------------------------------------------------------------------

const COLORS = ['blue', 'green', 'orange', 'purple', 'red', 'teal', 'yellow'];

/** A Widget's managedFields, by whether kubectl applied it (or Argo CD synced it) and whether its keys are sorted: holes for its creation and its reconciling. */
const WIDGET_FIELDS = [false, true].map((applied) =>
  [false, true].map(
    (sorted) =>
      new Frame(
        `[${managed(applied ? 'kubectl-client-side-apply' : 'argocd-controller', 'Update', 'example.com/v1', HOLE, `{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:team":{},"f:tier":{}}},"f:spec":{".":{},"f:color":{},"f:owner":{},"f:size":{}}}`, undefined, sorted)},` +
          `${managed('widget-operator', 'Update', 'example.com/v1', HOLE, '{"f:status":{".":{},"f:conditions":{},"f:observedGeneration":{},"f:phase":{}}}', 'status', sorted)}]`,
      ),
  ),
);

const widgets: ObjectSource = {
  name: (_layout, ns, j) => `${appName(j, ns!.apps, ns!.salt)}-widget`,
  json(o, form) {
    const { ns, x, h, start, created } = basics(o, o.j);
    const name = this.name(o.layout, ns, o.j);
    const generation = 1 + (h % 3) + o.round;
    const spec = `{"color":"${COLORS[h % COLORS.length]}","owner":"${x.team}","size":${1 + ((h + o.round) % 10)}}`;
    const applied = h % 2 === 0;
    // Stored unstructured, the object has its keys sorted; only the PartialObjectMetadata the server makes of it is a Go struct.
    const sorted = form !== 'metadata';
    const reconciled = timestamp(start + 5);
    const meta = (sorted ? sortedMetadata : metadata)(o, {
      name,
      generation,
      created,
      labels: x.labels,
      annotations: applied
        ? lastApplied`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"annotations":{},"labels":{${x.escapedLabels}},"name":"${name}","namespace":"${ns.name}"},"spec":${spec}}`
        : '',
      finalizers: '["example.com/widget-protection"]',
      managedFields: WIDGET_FIELDS[Number(applied)]![Number(sorted)]!.fill([created, reconciled]),
    });
    return envelope(
      'example.com/v1',
      'Widget',
      meta,
      form,
      () =>
        `"spec":${spec},"status":{"conditions":[{"lastTransitionTime":"${reconciled}","message":"widget is ready","reason":"Reconciled","status":"True","type":"Ready"}],"observedGeneration":${generation},"phase":"Ready"}`,
      true,
    );
  },
};

// --- Cluster-scoped: Namespaces and Nodes -------------------------------------------------

/** A Namespace's managedFields: a hole for its creation. */
const NAMESPACE_FIELDS = new Frame(
  `[${managed('kubectl-create', 'Update', 'v1', HOLE, '{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{},"f:team":{}}}}')}]`,
);

const namespaces: ObjectSource = {
  name: (layout, _ns, j) => layout.namespaces[j]!.name,
  json(o, form) {
    const ns = o.layout.namespaces[o.j]!;
    const start = CLUSTER_BIRTH + (hash2(ns.salt, 9) % (30 * DAY));
    const created = timestamp(start);
    const team = TEAM_OF(ns);
    const meta = metadata(o, {
      name: ns.name,
      created,
      labels: `"kubernetes.io/metadata.name":"${ns.name}","team":"${team}"`,
      annotations: '',
      managedFields: NAMESPACE_FIELDS.fill([created]),
    });
    return envelope('v1', 'Namespace', meta, form, () => '"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}');
  },
};

const INSTANCE_TYPES = [
  { type: 'm6i.xlarge', cpu: 4, memoryKi: 16_093_076 },
  { type: 'm6i.2xlarge', cpu: 8, memoryKi: 32_366_476 },
  { type: 'r6i.2xlarge', cpu: 8, memoryKi: 65_049_120 },
];
const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
/** The digests of the images every node has pulled (kube-proxy, pause). */
const NODE_IMAGE_DIGESTS = [digest(7), digest(8)];

/** A Node's managedFields: holes for its creation and its kubelet's last status update. */
const NODE_FIELDS = new Frame(
  `[${managed('kubelet', 'Update', 'v1', HOLE, '{"f:metadata":{"f:annotations":{".":{},"f:volumes.kubernetes.io/controller-managed-attach-detach":{}},"f:labels":{".":{},"f:kubernetes.io/arch":{},"f:kubernetes.io/hostname":{},"f:kubernetes.io/os":{},"f:node.kubernetes.io/instance-type":{},"f:topology.kubernetes.io/zone":{}}},"f:spec":{"f:providerID":{}}}')},` +
    `${managed('kubelet', 'Update', 'v1', HOLE, '{"f:status":{"f:allocatable":{},"f:capacity":{},"f:conditions":{},"f:images":{},"f:nodeInfo":{}}}', 'status')}]`,
);

const nodes: ObjectSource = {
  name: (_layout, _ns, j) => nodeName(j),
  json(o, form) {
    const name = nodeName(o.j);
    const h = mix32(o.id ^ o.uidSalt);
    const start = CLUSTER_BIRTH + (h % (20 * DAY));
    const created = timestamp(start);
    const it = INSTANCE_TYPES[h % INSTANCE_TYPES.length]!;
    const zone = ZONES[o.j % ZONES.length]!;
    const heartbeat = timestamp(start + DAY);
    const meta = metadata(o, {
      name,
      created,
      labels: `"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","kubernetes.io/hostname":"${name}","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"${it.type}","topology.kubernetes.io/zone":"${zone}"`,
      annotations: '"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"',
      managedFields: NODE_FIELDS.fill([created, heartbeat]),
    });
    return envelope('v1', 'Node', meta, form, () => {
      const ip = `10.0.${o.j >> 8}.${o.j & 255}`;
      const condition = (type: string, status: string, reason: string, message: string): string =>
        `{"type":"${type}","status":"${status}","lastHeartbeatTime":"${heartbeat}","lastTransitionTime":"${created}","reason":"${reason}","message":"${message}"}`;
      const resources = (cpu: string, memoryKi: number): string =>
        `{"cpu":"${cpu}","ephemeral-storage":"104845292Ki","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"${memoryKi}Ki","pods":"110"}`;
      return (
        `"spec":{"podCIDR":"10.244.${o.j & 255}.0/24","podCIDRs":["10.244.${o.j & 255}.0/24"],"providerID":"aws:///${zone}/i-0${hex8(h)}${hex8(hash2(h, 1)).slice(0, 8)}"},` +
        `"status":{"capacity":${resources(String(it.cpu), it.memoryKi)},"allocatable":${resources(`${it.cpu * 1000 - 90}m`, it.memoryKi - 1_000_000)},` +
        `"conditions":[${condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available')},${condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure')},${condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available')},${condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')}],` +
        `"addresses":[{"type":"InternalIP","address":"${ip}"},{"type":"Hostname","address":"${name}"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},` +
        `"nodeInfo":{"machineID":"${hex8(h)}${hex8(hash2(h, 2))}${hex8(hash2(h, 3))}${hex8(hash2(h, 4))}","systemUUID":"${uuidFor(o.id, o.uidSalt ^ 0x5a5a)}","bootID":"${uuidFor(o.id, o.uidSalt ^ 0xb007)}","kernelVersion":"5.10.205-195.807.amzn2.x86_64","osImage":"Amazon Linux 2","containerRuntimeVersion":"containerd://1.7.11","kubeletVersion":"v1.24.17","kubeProxyVersion":"v1.24.17","operatingSystem":"linux","architecture":"amd64"},` +
        `"images":[{"names":["registry.k8s.io/kube-proxy@sha256:${NODE_IMAGE_DIGESTS[0]}","registry.k8s.io/kube-proxy:v1.24.17"],"sizeBytes":26154320},{"names":["registry.k8s.io/pause@sha256:${NODE_IMAGE_DIGESTS[1]}","registry.k8s.io/pause:3.7"],"sizeBytes":311278}]}`
      );
    });
  },
};

/** The generated types, by plural resource name. */
export const OBJECT_SOURCES: Readonly<Record<string, ObjectSource>> = { pods, deployments, services, configmaps, secrets, widgets, namespaces, nodes };
