import { canonicalJson, digest, isCanonical } from '../rows/checksum.js';
import type { Profile } from '../rows/profiles/profile.js';
import { dropSecretData, isSecretType } from '../rows/profiles/secret.js';
import { attributeGetters, type KubeObject, type ProjectedType } from '../rows/project.js';
import { shardKeyOf } from '../rows/row.js';
import { copyFieldOf, copyJson } from '../store/spool-line.js';
import { SpoolPageBuilder, type SpoolPage } from '../store/spool-page.js';

/**
 * Turns one page of listed objects into what the spool stores: per shard, the rows' spool lines,
 * their checksums and their size as JSON lines. `plainStrings`: no string of the objects needs
 * an escape in JSON (`ParsedPage.plainStrings`, src/kube/page/parse-page.ts), so none is tested for one.
 */
export type PageEncoder = (objects: readonly KubeObject[], plainStrings?: boolean) => SpoolPage;

/**
 * The collect hot path's projection: the same row as `createProjector` (src/rows/project.ts), as
 * the spool line `spoolLineOf` gives (src/store/spool-line.ts) and the length of its JSON line,
 * with the same checksum, written straight to text. It costs about a third less per object than
 * projecting and then serializing (measured on kube-sim pods):
 *
 * - no Row object is built: each field is serialized once, by the native JSON.stringify (a
 *   string that needs no escape is only quoted: `jsonOf`);
 * - the checksum's canonical JSON reuses those strings: labels and attributes serialized in
 *   insertion order already are canonical when their keys come sorted (the API server sorts map
 *   keys; attributes are built in name order), so `canonicalJson` only runs where they are not;
 *   the spool line holds the same canonical text;
 * - a string goes into the spool line as it is whenever its JSON escaped nothing (copyFieldOf);
 * - constants of the type (cluster, group, version, kind, resource) are serialized once.
 *
 * test/collect/row-encoder.test.ts holds it to `createProjector` and `spoolLineOf` byte for byte.
 */
export function createPageEncoder(cluster: string, type: ProjectedType, profile: Profile): PageEncoder {
  const getters = attributeGetters(profile);
  const secret = isSecretType(type);
  const clusterJson = JSON.stringify(cluster);
  // The row's fields between uid and labels are the type's, the same in every row.
  const typeJson = `${JSON.stringify(type.group)},${JSON.stringify(type.version)},${JSON.stringify(type.kind)}`;
  const typeFields = `"apiGroup":${JSON.stringify(type.group)},"apiVersion":${JSON.stringify(type.version)},"kind":${JSON.stringify(type.kind)},"resource":${JSON.stringify(type.resource)}`;
  // A row's JSON line is its values' JSON between fixed keys: this many characters, plus the values'.
  const jsonKeys =
    `{"cluster":${clusterJson},"namespace":,"name":,"uid":,${typeFields},"labels":,"attributes":,"createdAt":,"resourceVersion":,"checksum":""}\n`.length;

  // A list comes in namespace order: most rows share the namespace of the one before.
  let namespace: string | undefined;
  let namespaceJson = '';
  return (objects, plainStrings = false) => {
    const page = new SpoolPageBuilder();
    for (const object of objects) {
      if (secret) dropSecretData(object);
      const meta = object.metadata ?? {};
      const rowNamespace = meta.namespace ?? '';
      if (rowNamespace !== namespace) {
        namespace = rowNamespace;
        namespaceJson = jsonOf(namespace, plainStrings);
      }
      const name = meta.name ?? '';
      const uid = meta.uid ?? '';
      const resourceVersion = meta.resourceVersion ?? '';
      const nameJson = jsonOf(name, plainStrings);
      const uidJson = jsonOf(uid, plainStrings);
      const versionJson = jsonOf(resourceVersion, plainStrings);
      const labels = meta.labels ?? {};
      const labelsJson = JSON.stringify(labels);
      let attributesJson = '';
      let attributesCanonical = true;
      for (const [attribute, get] of getters) {
        const value = get(object);
        if (value === undefined) continue;
        attributesJson += `${attributesJson === '' ? '' : ','}"${attribute}":${jsonOf(value, plainStrings)}`;
        if (attributesCanonical && !isCanonical(value)) attributesCanonical = false;
      }
      attributesJson = `{${attributesJson}}`;
      const created = meta.creationTimestamp ?? null;
      const createdJson = jsonOf(created, plainStrings);
      // The spool keeps the canonical text too (kollect.store/v5), so that documents copy it as it is.
      const labelsText = isCanonical(labels) ? labelsJson : canonicalJson(labels);
      const attributesText = attributesCanonical ? attributesJson : canonicalJson(JSON.parse(attributesJson));
      const checksum = digest(`[${clusterJson},${namespaceJson},${nameJson},${uidJson},${typeJson},${labelsText},${attributesText},${createdJson}]`);
      page.add(
        shardKeyOf(namespace),
        `${copyFieldOf(name, nameJson)}\t${copyFieldOf(uid, uidJson)}\t${plainStrings ? labelsText : copyJson(labelsText)}\t${plainStrings ? attributesText : copyJson(attributesText)}\t${checksum}\t` +
          `${copyFieldOf(resourceVersion, versionJson)}\t${created === null ? '\\N' : copyFieldOf(created, createdJson)}`,
        checksum,
        jsonKeys +
          namespaceJson.length +
          nameJson.length +
          uidJson.length +
          labelsJson.length +
          attributesJson.length +
          createdJson.length +
          versionJson.length +
          checksum.length,
      );
    }
    return page.build();
  };
}

/** What JSON escapes in a string: a quote, a backslash, a control character, a surrogate (when lone). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * `JSON.stringify(value)`, faster for the short strings of metadata (names, uids, versions,
 * timestamps): one that needs no escape is only put in quotes. A call of JSON.stringify on a
 * string measured about 2.5 times the regular expression's test, and a row has five of them;
 * on a page of `plain` strings (most pages of metadata) not even the test is needed.
 */
function jsonOf(value: unknown, plain: boolean): string {
  return typeof value === 'string' && (plain || !JSON_ESCAPED.test(value)) ? `"${value}"` : (JSON.stringify(value) ?? 'null');
}
