import * as z from 'zod/mini';
import { dnsLabel, pathTemplate } from '../../config/fields.js';
import { nonEmpty } from '../../zod.js';

export const fileSinkConfig = z.strictObject({
  name: dnsLabel,
  type: z.literal('file'),
  /** Folder the files are written under. */
  dir: nonEmpty(),
  pathTemplate,
});
export type FileSinkConfig = z.infer<typeof fileSinkConfig>;
