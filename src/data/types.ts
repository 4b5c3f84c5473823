/** One split of an image-classification dataset, held as raw uint8 pixels (NHWC) to keep memory small. */
export interface Split {
  /** n * height * width * channels bytes, NHWC order, values 0..255. */
  images: Uint8Array;
  /** n labels, each in [0, numClasses). */
  labels: Int32Array;
  n: number;
}

/** A loaded dataset: both splits plus what batching needs to normalise and augment it. */
export interface Dataset {
  name: string;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  train: Split;
  test: Split;
  /** Per-channel mean and std of pixel/255, used for normalisation. */
  mean: number[];
  std: number[];
  /** Whether horizontal flips preserve the label semantics (false for digits). */
  flipOk: boolean;
  /** Where the files were found (directory), or 'synthetic'. */
  source: string;
  /** Human-readable class names, index = label, where the dataset defines them. */
  classNames?: string[];
}

export { DataError } from '../util/errors.js';
