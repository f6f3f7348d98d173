// The `bundle:` section of tiffin.yaml: what `tiffin build` (src/bundle) puts in a bundle beyond the service and its models.
import { z } from 'zod';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A value that ends up on one line of a Dockerfile or a manifest: no line breaks. */
const oneLine = (what: string) => z.string({ error: `expected ${what}` }).min(1).refine((s) => !/[\r\n]/.test(s), { error: `${what} must be one line` });

export const containerSectionSchema = z.strictObject({
  /** The image the bundle's image starts from (default node:<major>-bookworm-slim, the major of the Node that builds). */
  baseImage: oneLine('an image reference such as node:20-bookworm-slim').optional(),
  /** Debian packages installed with apt-get (for example libgomp1 for a native runtime). */
  systemPackages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.:=~-]*$/, { error: 'expected a Debian package name such as libgomp1' })).optional(),
  /** Extra shell commands, each run as its own RUN step as root before the app is copied in. */
  setup: z.array(oneLine('a shell command')).optional(),
});

export const bundleSectionSchema = z.strictObject({
  /** Name of the bundle (default: the service's name). */
  name: z.string().regex(NAME, { error: 'expected a name of lowercase letters, digits, ".", "_" and "-", up to 63 characters' }).optional(),
  description: oneLine('a one-line description').optional(),
  labels: z.record(z.string(), oneLine('a label value')).optional(),
  /** Files (globs relative to the project folder) copied into the bundle's app/ folder, e.g. data the service reads. */
  include: z.array(z.string().min(1)).optional(),
  /** Globs left out of `include`'s matches. node_modules and .git are always left out. */
  exclude: z.array(z.string().min(1)).optional(),
  /** Store models to pack beyond those the service declares and `models:` serves (tags; `name` is the newest). */
  models: z.array(z.string().min(1)).optional(),
  /** Environment variables set in the bundle's image and when the bundle is served. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }), z.string().refine((s) => !/[\r\n]/.test(s), { error: 'must be one line' })).optional(),
  container: containerSectionSchema.optional(),
});

export type BundleSection = z.output<typeof bundleSectionSchema>;
