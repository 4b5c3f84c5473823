/**
 * COCO instance annotations (`instances_*.json`) read as a token stream (stream-json), never as one string: COCO's
 * train2017 file is 450 MB, most of it segmentation polygons, which are skipped token by token and never built. What
 * is kept is a compact index: the images (id, file name, size), every usable annotation in typed arrays grouped by
 * image, and the categories sorted by id with their contiguous labels 0..K-1.
 *
 * Boxes are converted as torchvision's detection reference does (references/detection/coco_utils.py,
 * ConvertCocoPolysToMask): [x, y, w, h] to float32, x2 = x + w and y2 = y + h in float32, clipped to the image,
 * kept when x2 > x1 and y2 > y1. An annotation that fails (non-finite numbers, no area after clipping, an unknown
 * category or image) is skipped and counted, or is fatal under onBad 'error'. The evaluator's ground truth keeps the
 * file's own bbox and area (pycocotools reads those), crowd regions included.
 */
import { createReadStream } from 'node:fs';
import Parser from 'stream-json/Parser.js';
import { DataError } from '../../util/errors.js';

/** What a malformed annotation or image entry does: skipped and counted, or fatal. */
export type BadEntryPolicy = 'skip' | 'error';

/** One category of the file; its label is its position in the id-sorted list. */
export interface CocoCategory {
  id: number;
  name: string;
}

/** The COCO ground truth the evaluator (src/detection/coco-eval.ts) takes, in COCO's json form. */
export interface CocoGroundTruthJson {
  images: { id: number; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: [number, number, number, number]; area: number; iscrowd: 0 | 1 }[];
  categories: { id: number; name: string }[];
}

/** A skipped entry, for the message under onBad 'error' and the log. */
export interface BadEntry {
  what: 'annotation' | 'image';
  /** Its id, or null when it has none (then `position` says which entry it is). */
  id: number | null;
  /** 0-based position among the file's entries of its kind. */
  position: number;
  reason: string;
}

/** The typed arrays of an index (also what the index cache stores). */
export interface CocoIndexData {
  /** The annotation file, as given. */
  file: string;
  /** Per image, in file order. */
  imageIds: Float64Array;
  fileNames: string[];
  widths: Int32Array;
  heights: Int32Array;
  /** Image i's annotations are [annStart[i], annStart[i + 1]) of the arrays below (file order within an image). */
  annStart: Int32Array;
  annIds: Float64Array;
  /** xyxy in original pixels, float32, clipped to the image (torchvision's conversion). */
  boxes: Float32Array;
  /** The file's [x, y, w, h], for the evaluator. */
  bbox: Float64Array;
  categoryIds: Int32Array;
  /** Contiguous labels 0..K-1: the index of the category in `categories`. */
  labels: Int32Array;
  iscrowd: Uint8Array;
  /** The file's area (segmentation area in COCO), w * h where absent. */
  area: Float64Array;
  /** Sorted by id. */
  categories: CocoCategory[];
  /** The file's `info.mean` / `info.std` (pixel/255, RGB) when present and valid. */
  mean: number[] | null;
  std: number[] | null;
  /** Entries skipped, by reason, and the first few of them. */
  skippedAnnotations: number;
  skippedImages: number;
  reasons: Record<string, number>;
  firstBad: BadEntry[];
}

/** How many skipped entries are kept for messages. */
const FIRST_BAD = 10;

/** The index of one annotation file: images, their annotations and the label mapping. */
export class CocoIndex {
  readonly numImages: number;
  readonly numAnnotations: number;
  private readonly byId = new Map<number, number>();
  private readonly labelOf = new Map<number, number>();

  constructor(readonly data: CocoIndexData) {
    this.numImages = data.imageIds.length;
    this.numAnnotations = data.annIds.length;
    data.imageIds.forEach((id, i) => this.byId.set(id, i));
    data.categories.forEach((c, k) => this.labelOf.set(c.id, k));
  }

  /** The file this index was read from. */
  get file(): string {
    return this.data.file;
  }

  /** Categories sorted by id (label = position). */
  get categories(): CocoCategory[] {
    return this.data.categories;
  }

  /** The position of an image id in the index, or undefined. */
  imageIndex(id: number): number | undefined {
    return this.byId.get(id);
  }

  /** The contiguous label of a category id, or undefined. */
  label(categoryId: number): number | undefined {
    return this.labelOf.get(categoryId);
  }

  /** Image i's annotation range [start, end) in the annotation arrays. */
  annotationRange(i: number): [number, number] {
    return [this.data.annStart[i]!, this.data.annStart[i + 1]!];
  }

  /**
   * The ground truth of some images (all by default) as COCO json, crowd included, with the file's bbox and area,
   * so the evaluator sees what pycocotools would read from the file.
   */
  groundTruth(imageIds?: readonly number[]): CocoGroundTruthJson {
    const d = this.data;
    const ids = imageIds ?? Array.from(d.imageIds);
    const images: CocoGroundTruthJson['images'] = [];
    const annotations: CocoGroundTruthJson['annotations'] = [];
    for (const id of ids) {
      const i = this.byId.get(id);
      if (i === undefined) throw new RangeError(`${d.file}: no image with id ${id}`);
      images.push({ id, width: d.widths[i]!, height: d.heights[i]! });
      for (let a = d.annStart[i]!; a < d.annStart[i + 1]!; a++) {
        annotations.push({
          id: d.annIds[a]!,
          image_id: id,
          category_id: d.categoryIds[a]!,
          bbox: [d.bbox[4 * a]!, d.bbox[4 * a + 1]!, d.bbox[4 * a + 2]!, d.bbox[4 * a + 3]!],
          area: d.area[a]!,
          iscrowd: d.iscrowd[a] ? 1 : 0,
        });
      }
    }
    return { images, annotations, categories: d.categories.map((c) => ({ id: c.id, name: c.name })) };
  }

  /** A DataError for the first skipped entry, or null when nothing was skipped (what onBad 'error' throws). */
  firstBadError(): DataError | null {
    const b = this.data.firstBad[0];
    if (!b) return null;
    const which = b.id === null ? `${b.what} #${b.position + 1} (no id)` : `${b.what} id ${b.id}`;
    const total = this.data.skippedAnnotations + this.data.skippedImages;
    return new DataError(
      `${this.data.file}: ${which}: ${b.reason}` +
        (total > 1 ? ` (and ${total - 1} more bad entries)` : '') +
        ` (data.on_bad_image is 'error'; set it to 'skip' to skip such entries)`,
    );
  }
}

// ---- the token stream -------------------------------------------------------------------------------------------

/** A stream-json token with packed values only (keyValue, stringValue, numberValue). */
interface Token {
  name: string;
  value?: string | number | boolean | null;
}

/** What the token reader collects, before validation. */
interface Raw {
  /** Entries that are not objects are kept as all-NaN records, so they count as bad entries at their position. */
  images: { id: number[]; name: (string | null)[]; width: number[]; height: number[] };
  ann: {
    id: number[];
    image: number[];
    category: number[];
    bbox: number[];
    /** NaN when absent. */
    area: number[];
    /** 0, 1, or NaN when malformed. */
    crowd: number[];
    /** Whether area was present. */
    hasArea: boolean[];
  };
  categories: { id: number; name: unknown }[];
  info: unknown;
  seen: Set<string>;
}

const SECTION_NONE = 0;
const SECTION_IMAGES = 1;
const SECTION_ANNOTATIONS = 2;
const SECTION_CATEGORIES = 3;

/** A number field: numbers as they are, anything else NaN (so it reads as malformed). */
function num(v: Token['value']): number {
  return typeof v === 'number' ? v : NaN;
}

/**
 * Consumes the parser's tokens. Depth counts open containers; inside an element of `images`, `annotations` or
 * `categories` (depth 3) scalar fields are kept and `bbox`'s numbers collected, every other nested value (the
 * segmentation) is skipped by counting its brackets; `info` is assembled whole (it is small).
 */
function tokenReader(raw: Raw): (t: Token) => void {
  let depth = 0;
  let skip = 0;
  let topKey: string | null = null;
  let section = SECTION_NONE;
  let field: string | null = null;
  // The element being read.
  let id = NaN;
  let name: unknown = undefined;
  let width = NaN;
  let height = NaN;
  let image = NaN;
  let category = NaN;
  let area = NaN;
  let hasArea = false;
  let crowd = 0;
  const bbox: number[] = [];
  let bboxOk = true;
  let inBbox = false;
  // The info object under assembly.
  const stack: unknown[] = [];
  let infoKey: string | null = null;

  const reset = () => {
    id = NaN;
    name = undefined;
    width = NaN;
    height = NaN;
    image = NaN;
    category = NaN;
    area = NaN;
    hasArea = false;
    crowd = 0;
    bbox.length = 0;
    bboxOk = false;
    inBbox = false;
    field = null;
  };
  const finish = () => {
    if (section === SECTION_IMAGES) {
      raw.images.id.push(id);
      raw.images.name.push(typeof name === 'string' ? name : null);
      raw.images.width.push(width);
      raw.images.height.push(height);
    } else if (section === SECTION_ANNOTATIONS) {
      const a = raw.ann;
      a.id.push(id);
      a.image.push(image);
      a.category.push(category);
      if (bboxOk && bbox.length === 4) a.bbox.push(bbox[0]!, bbox[1]!, bbox[2]!, bbox[3]!);
      else a.bbox.push(NaN, NaN, NaN, NaN);
      a.area.push(area);
      a.hasArea.push(hasArea);
      a.crowd.push(crowd);
    } else if (section === SECTION_CATEGORIES) {
      raw.categories.push({ id, name });
    }
  };
  const scalar = (v: Token['value']) => {
    switch (field) {
      case 'id':
        id = num(v);
        break;
      case 'file_name':
        if (section === SECTION_IMAGES) name = v;
        break;
      case 'name':
        if (section === SECTION_CATEGORIES) name = v;
        break;
      case 'width':
        width = num(v);
        break;
      case 'height':
        height = num(v);
        break;
      case 'image_id':
        image = num(v);
        break;
      case 'category_id':
        category = num(v);
        break;
      case 'area':
        area = num(v);
        hasArea = true;
        break;
      case 'iscrowd':
        crowd = v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : NaN;
        break;
      case 'bbox':
        bboxOk = false;
        break;
      default:
        break; // fields pwlu does not read
    }
  };
  // info: a tiny assembler (values only, no reviver).
  const infoValue = (v: unknown) => {
    if (stack.length === 0) {
      raw.info = v;
      return;
    }
    const top = stack[stack.length - 1]!;
    if (Array.isArray(top)) top.push(v);
    else (top as Record<string, unknown>)[infoKey!] = v;
  };

  return (t: Token) => {
    const n = t.name;
    if (skip > 0) {
      if (n === 'startObject' || n === 'startArray') skip++;
      else if (n === 'endObject' || n === 'endArray') skip--;
      return;
    }
    const opens = n === 'startObject' || n === 'startArray';
    const closes = n === 'endObject' || n === 'endArray';
    if (n === 'keyValue') {
      if (depth === 1) topKey = t.value as string;
      else if (depth === 3 && section !== SECTION_NONE) field = t.value as string;
      else if (stack.length > 0) infoKey = t.value as string;
      return;
    }
    if (depth === 0) {
      if (n !== 'startObject') throw new Error('the top level is not a JSON object');
      depth = 1;
      return;
    }
    if (stack.length > 0 || (depth === 1 && topKey === 'info' && opens)) {
      // Inside info.
      if (opens) {
        const c: unknown = n === 'startObject' ? {} : [];
        if (stack.length > 0) infoValue(c);
        stack.push(c);
        depth++;
      } else if (closes) {
        const c = stack.pop();
        depth--;
        if (stack.length === 0) raw.info = c;
      } else infoValue(t.value ?? null);
      return;
    }
    if (depth === 1) {
      if (closes) {
        depth = 0;
        return;
      }
      const key = topKey ?? '';
      const which = key === 'images' ? SECTION_IMAGES : key === 'annotations' ? SECTION_ANNOTATIONS : key === 'categories' ? SECTION_CATEGORIES : SECTION_NONE;
      if (which !== SECTION_NONE) {
        if (n !== 'startArray') throw new Error(`"${key}" is not an array`);
        raw.seen.add(key);
        section = which;
        depth = 2;
      } else if (opens) skip = 1;
      return;
    }
    if (depth === 2) {
      if (n === 'endArray') {
        section = SECTION_NONE;
        depth = 1;
      } else if (n === 'startObject') {
        reset();
        bboxOk = false;
        depth = 3;
      } else {
        // An element that is not an object: an all-NaN record, a bad entry at its position.
        reset();
        finish();
        if (opens) skip = 1;
      }
      return;
    }
    if (depth === 3) {
      if (n === 'endObject') {
        finish();
        depth = 2;
      } else if (n === 'startArray' && field === 'bbox' && section === SECTION_ANNOTATIONS) {
        inBbox = true;
        bboxOk = true;
        depth = 4;
      } else if (opens) {
        if (field === 'bbox') bboxOk = false;
        skip = 1;
      } else scalar(t.value);
      return;
    }
    // depth 4: inside bbox.
    if (inBbox) {
      if (n === 'endArray') {
        inBbox = false;
        depth = 3;
      } else if (n === 'numberValue') bbox.push(t.value as number);
      else {
        bboxOk = false;
        if (opens) skip = 1;
      }
    }
  };
}

/** Streams the file through stream-json into `raw`; numbers are converted as JSON.parse does (Number of the text). */
async function readTokens(file: string): Promise<Raw> {
  const raw: Raw = {
    images: { id: [], name: [], width: [], height: [] },
    ann: { id: [], image: [], category: [], bbox: [], area: [], crowd: [], hasArea: [] },
    categories: [],
    info: null,
    seen: new Set(),
  };
  const consume = tokenReader(raw);
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({ packValues: true, streamValues: false });
    const input = createReadStream(file, { highWaterMark: 1 << 20 });
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      input.destroy();
      parser.destroy();
      reject(e);
    };
    parser.on('data', (t: { name: string; value?: string }) => {
      if (failed) return;
      try {
        if (t.name === 'numberValue') consume({ name: t.name, value: Number(t.value) });
        else if (t.name === 'trueValue') consume({ name: 'trueValue', value: true });
        else if (t.name === 'falseValue') consume({ name: 'falseValue', value: false });
        else if (t.name === 'nullValue') consume({ name: 'nullValue', value: null });
        else consume(t);
      } catch (e) {
        fail(e as Error);
      }
    });
    parser.on('end', () => {
      if (!failed) resolve();
    });
    parser.on('error', (e: Error) => fail(new Error(`not valid JSON: ${e.message}`)));
    input.on('error', (e: Error) => fail(new Error(`cannot read it: ${e.message}`)));
    input.pipe(parser);
  });
  return raw;
}

// ---- validation and the index --------------------------------------------------------------------------------------

/** A 3-vector of finite numbers (positive when `positive`), else null. */
function triple(v: unknown, positive: boolean): number[] | null {
  if (!Array.isArray(v) || v.length !== 3) return null;
  const out = v.map((x: unknown) => (typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0) ? x : NaN));
  return out.some((x) => Number.isNaN(x)) ? null : out;
}

/** Validates what the reader collected and builds the index (the skipped entries recorded in it). */
function buildIndex(file: string, raw: Raw): CocoIndexData {
  if (!raw.seen.has('images')) throw new DataError(`${file}: not a COCO annotation file: it has no "images" array`);
  if (!raw.seen.has('categories')) throw new DataError(`${file}: not a COCO annotation file: it has no "categories" array`);
  const reasons: Record<string, number> = {};
  const firstBad: BadEntry[] = [];
  let skippedImages = 0;
  let skippedAnnotations = 0;
  const bad = (what: BadEntry['what'], id: number, position: number, reason: string) => {
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    if (what === 'image') skippedImages++;
    else skippedAnnotations++;
    if (firstBad.length < FIRST_BAD) firstBad.push({ what, id: Number.isFinite(id) ? id : null, position, reason });
  };

  // Categories: a bad one would shift every label, so it is always fatal.
  const seenCat = new Set<number>();
  for (const [k, c] of raw.categories.entries()) {
    if (!Number.isInteger(c.id) || typeof c.name !== 'string') {
      throw new DataError(`${file}: category #${k + 1} needs an integer "id" and a string "name", got id ${String(c.id)} name ${JSON.stringify(c.name)}`);
    }
    if (seenCat.has(c.id)) throw new DataError(`${file}: category id ${c.id} appears twice`);
    seenCat.add(c.id);
  }
  const categories = raw.categories.map((c) => ({ id: c.id, name: c.name as string })).sort((a, b) => a.id - b.id);
  const labelOf = new Map(categories.map((c, k) => [c.id, k]));

  // Images, in file order.
  const im = raw.images;
  const keep: number[] = [];
  const imageIndex = new Map<number, number>();
  for (let k = 0; k < im.id.length; k++) {
    const id = im.id[k]!;
    const w = im.width[k]!;
    const h = im.height[k]!;
    if (!Number.isFinite(id)) bad('image', id, k, 'no numeric "id"');
    else if (imageIndex.has(id)) bad('image', id, k, 'duplicate image id');
    else if (im.name[k] === null || im.name[k] === '') bad('image', id, k, 'no "file_name"');
    else if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) bad('image', id, k, `width and height must be positive integers, got ${w}x${h}`);
    else {
      imageIndex.set(id, keep.length);
      keep.push(k);
    }
  }
  const nImages = keep.length;
  const imageIds = Float64Array.from(keep, (k) => im.id[k]!);
  const fileNames = keep.map((k) => im.name[k]!);
  const widths = Int32Array.from(keep, (k) => im.width[k]!);
  const heights = Int32Array.from(keep, (k) => im.height[k]!);

  // Annotations: validate in file order, then group by image (stable counting sort).
  const a = raw.ann;
  const nRaw = a.id.length;
  const owner = new Int32Array(nRaw).fill(-1);
  const clipped = new Float32Array(4 * nRaw);
  const counts = new Int32Array(nImages + 1);
  for (let k = 0; k < nRaw; k++) {
    const id = a.id[k]!;
    const x = a.bbox[4 * k]!;
    const y = a.bbox[4 * k + 1]!;
    const w = a.bbox[4 * k + 2]!;
    const h = a.bbox[4 * k + 3]!;
    if (!Number.isFinite(id)) {
      bad('annotation', id, k, 'no numeric "id"');
      continue;
    }
    if (![x, y, w, h].every(Number.isFinite)) {
      bad('annotation', id, k, '"bbox" is not 4 finite numbers');
      continue;
    }
    if (!Number.isFinite(a.image[k]!) || !Number.isFinite(a.category[k]!) || (a.hasArea[k] && !Number.isFinite(a.area[k]!)) || Number.isNaN(a.crowd[k]!)) {
      bad('annotation', id, k, 'a non-finite or non-numeric image_id, category_id, area or iscrowd');
      continue;
    }
    const img = imageIndex.get(a.image[k]!);
    if (img === undefined) {
      bad('annotation', id, k, `image_id ${a.image[k]} is not an image of the file`);
      continue;
    }
    if (!labelOf.has(a.category[k]!)) {
      bad('annotation', id, k, `category_id ${a.category[k]} is not a category of the file`);
      continue;
    }
    // torchvision's conversion: float32, x2 = x + w in float32, clip to the image.
    const W = widths[img]!;
    const H = heights[img]!;
    const x1 = Math.min(Math.max(Math.fround(x), 0), W);
    const y1 = Math.min(Math.max(Math.fround(y), 0), H);
    const x2 = Math.min(Math.max(Math.fround(Math.fround(x) + Math.fround(w)), 0), W);
    const y2 = Math.min(Math.max(Math.fround(Math.fround(y) + Math.fround(h)), 0), H);
    if (!(x2 > x1 && y2 > y1)) {
      bad('annotation', id, k, `box [${x}, ${y}, ${w}, ${h}] has no area inside the ${W}x${H} image`);
      continue;
    }
    clipped[4 * k] = x1;
    clipped[4 * k + 1] = y1;
    clipped[4 * k + 2] = x2;
    clipped[4 * k + 3] = y2;
    owner[k] = img;
    counts[img + 1]!++;
  }
  const annStart = new Int32Array(nImages + 1);
  for (let i = 0; i < nImages; i++) annStart[i + 1] = annStart[i]! + counts[i + 1]!;
  const nAnn = annStart[nImages]!;
  const fill = annStart.slice(0, nImages);
  const annIds = new Float64Array(nAnn);
  const boxes = new Float32Array(4 * nAnn);
  const bbox = new Float64Array(4 * nAnn);
  const categoryIds = new Int32Array(nAnn);
  const labels = new Int32Array(nAnn);
  const iscrowd = new Uint8Array(nAnn);
  const area = new Float64Array(nAnn);
  for (let k = 0; k < nRaw; k++) {
    const img = owner[k]!;
    if (img < 0) continue;
    const j = fill[img]!++;
    annIds[j] = a.id[k]!;
    for (let c = 0; c < 4; c++) {
      boxes[4 * j + c] = clipped[4 * k + c]!;
      bbox[4 * j + c] = a.bbox[4 * k + c]!;
    }
    categoryIds[j] = a.category[k]!;
    labels[j] = labelOf.get(a.category[k]!)!;
    iscrowd[j] = a.crowd[k]!;
    area[j] = a.hasArea[k] ? a.area[k]! : a.bbox[4 * k + 2]! * a.bbox[4 * k + 3]!;
  }

  const info = raw.info !== null && typeof raw.info === 'object' ? (raw.info as Record<string, unknown>) : {};
  const mean = triple(info.mean, false);
  const std = triple(info.std, true);
  return {
    file,
    imageIds,
    fileNames,
    widths,
    heights,
    annStart,
    annIds,
    boxes,
    bbox,
    categoryIds,
    labels,
    iscrowd,
    area,
    categories,
    mean: mean && std ? mean : null,
    std: mean && std ? std : null,
    skippedAnnotations,
    skippedImages,
    reasons,
    firstBad,
  };
}

/** Options of `readCocoAnnotations`. */
export interface ReadAnnotationsOptions {
  /** Skip and count malformed entries (default), or throw a DataError naming the first. */
  onBad?: BadEntryPolicy;
  /** Told how many entries were skipped, and why. */
  log?: (msg: string) => void;
}

/** The one-line summary of what was skipped, for the log. */
export function skippedSummary(d: CocoIndexData): string | null {
  if (d.skippedAnnotations + d.skippedImages === 0) return null;
  const why = Object.entries(d.reasons)
    .map(([r, n]) => `${n}× ${r}`)
    .join('; ');
  return `${d.file}: skipped ${d.skippedAnnotations} annotation${d.skippedAnnotations === 1 ? '' : 's'} and ${d.skippedImages} image entr${d.skippedImages === 1 ? 'y' : 'ies'} (${why})`;
}

/** Parses an annotation file into index data, without the cache (what the cache stores). */
export async function parseCocoAnnotations(file: string): Promise<CocoIndexData> {
  let raw: Raw;
  try {
    raw = await readTokens(file);
  } catch (e) {
    throw new DataError(`${file}: ${(e as Error).message}`);
  }
  return buildIndex(file, raw);
}

/**
 * Reads an annotation file into its index, streaming it (memory stays at the index's size, not the file's); applies
 * the bad-entry policy: skipped entries are logged once, or the first is a DataError under onBad 'error'.
 */
export async function readCocoAnnotations(file: string, opts: ReadAnnotationsOptions = {}): Promise<CocoIndex> {
  return indexWithPolicy(await parseCocoAnnotations(file), opts);
}

/** The index of parsed data under a bad-entry policy (shared with the cached reader). */
export function indexWithPolicy(data: CocoIndexData, opts: ReadAnnotationsOptions): CocoIndex {
  const index = new CocoIndex(data);
  if (opts.onBad === 'error') {
    const e = index.firstBadError();
    if (e) throw e;
  }
  const summary = skippedSummary(data);
  if (summary) opts.log?.(summary);
  return index;
}
