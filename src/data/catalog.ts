import { DATASETS } from '../config/schema.js';
import { UserError } from '../util/errors.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './imagefolder.js';

/**
 * The dataset catalogue behind `pwlu data list` / `pwlu data get`: shapes, normalisation statistics,
 * expected files and canonical downloads with the checksums their authors publish.
 *
 * Checksums: the md5 of each download is the one published by the dataset authors (Fashion-MNIST's
 * README, the CIFAR page) or used by torchvision (MNIST). The Fashion-MNIST md5s were verified against
 * the Debian package `dataset-fashion-mnist`, whose .gz files carry the identical deflate streams with a
 * normalised gzip header (file name dropped, mtime reset); `contentMd5` is the md5 of the decompressed
 * idx data, which is the same in both and so also identifies the Debian copies.
 */

/** Names accepted by `data.name`. */
export type DatasetName = (typeof DATASETS)[number];
/** Which loader reads a dataset. */
export type DatasetFormat = 'idx' | 'cifar10' | 'cifar100' | 'imagefolder' | 'shards' | 'synthetic' | 'coco';

/** One file to download. */
export interface DownloadSpec {
  /** File name as saved (and as published). */
  file: string;
  /** Mirrors, tried in order. */
  urls: string[];
  /** md5 of the file as published, lower-case hex. */
  md5: string;
  /** Published size in bytes (for the progress bar when the server sends no Content-Length). */
  bytes: number;
  /** md5 of the decompressed content (idx .gz only), where verified. */
  contentMd5?: string;
  /** Archives are extracted into the dataset directory and then deleted. */
  extract?: 'tar.gz';
}

/** Everything pwlu knows about a dataset before loading it. */
export interface CatalogEntry {
  name: DatasetName;
  title: string;
  description: string;
  format: DatasetFormat;
  /** Native image size; null where it is configured (image folders, synthetic). */
  height: number | null;
  width: number | null;
  channels: number | null;
  /** null where it comes from the data (image folders) or the config (synthetic). */
  numClasses: number | null;
  trainSize: number | null;
  testSize: number | null;
  /** Per-channel mean/std of pixel/255; null where computed from the data (synthetic). */
  mean: number[] | null;
  std: number[] | null;
  /** Whether horizontal flips keep labels valid (false for digits). */
  flipOk: boolean;
  classNames: string[] | null;
  /** Files (or layout) expected in the dataset directory, for messages and `data list`. */
  files: string[];
  downloads: DownloadSpec[];
  /** A Debian package that installs the files into /usr/share/datasets/<name>. */
  aptPackage: string | null;
  homepage: string | null;
  license: string | null;
}

const FASHION_BASES = [
  'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
];
const MNIST_BASES = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'];

const IDX_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

const CIFAR100_FINE = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can ' +
  'castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin ' +
  'elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster ' +
  'man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck ' +
  'pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk ' +
  'skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger ' +
  'tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');

/** The catalogue itself, keyed by dataset name. */
export const CATALOG: Record<DatasetName, CatalogEntry> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST',
    description: "Zalando's 28x28 greyscale images of 10 clothing categories; 60,000 train / 10,000 test.",
    format: 'idx',
    height: 28,
    width: 28,
    channels: 1,
    numClasses: 10,
    trainSize: 60000,
    testSize: 10000,
    mean: [0.286],
    std: [0.353],
    flipOk: true,
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    files: IDX_FILES,
    downloads: [
      { file: IDX_FILES[0]!, md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', bytes: 26421880, contentMd5: 'f4a8712d7a061bf5bd6d2ca38dc4d50a' },
      { file: IDX_FILES[1]!, md5: '25c81989df183df01b3e8a0aad5dffbe', bytes: 29515, contentMd5: '9018921c3c673c538a1fc5bad174d6f9' },
      { file: IDX_FILES[2]!, md5: 'bef4ecab320f06d8554ea6380940ec79', bytes: 4422102, contentMd5: '8181f5470baa50b63fa0f6fddb340f0a' },
      { file: IDX_FILES[3]!, md5: 'bb300cfdad3c16e7a12a480ee83cd310', bytes: 5148, contentMd5: '15d484375f8d13e6eb1aabb0c3f46965' },
    ].map((d) => ({ ...d, urls: FASHION_BASES.map((b) => b + d.file) })),
    aptPackage: 'dataset-fashion-mnist',
    homepage: 'https://github.com/zalandoresearch/fashion-mnist',
    license: 'MIT',
  },
  mnist: {
    name: 'mnist',
    title: 'MNIST',
    description: 'LeCun et al. 28x28 greyscale handwritten digits 0-9; 60,000 train / 10,000 test.',
    format: 'idx',
    height: 28,
    width: 28,
    channels: 1,
    numClasses: 10,
    trainSize: 60000,
    testSize: 10000,
    mean: [0.1307],
    std: [0.3081],
    flipOk: false,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    files: IDX_FILES,
    downloads: [
      { file: IDX_FILES[0]!, md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873', bytes: 9912422 },
      { file: IDX_FILES[1]!, md5: 'd53e105ee54ea40749a09fcbcd1e9432', bytes: 28881 },
      { file: IDX_FILES[2]!, md5: '9fb629c4189551a2d022fa330f9573f3', bytes: 1648877 },
      { file: IDX_FILES[3]!, md5: 'ec29112dd5afa0611ce80d1b7f02629c', bytes: 4542 },
    ].map((d) => ({ ...d, urls: MNIST_BASES.map((b) => b + d.file) })),
    aptPackage: null,
    homepage: 'http://yann.lecun.com/exdb/mnist/',
    license: 'CC BY-SA 3.0',
  },
  cifar10: {
    name: 'cifar10',
    title: 'CIFAR-10',
    description: 'Krizhevsky 32x32 colour images of 10 classes; 50,000 train / 10,000 test (binary version).',
    format: 'cifar10',
    height: 32,
    width: 32,
    channels: 3,
    numClasses: 10,
    trainSize: 50000,
    testSize: 10000,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.247, 0.2435, 0.2616],
    flipOk: true,
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    files: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'test_batch.bin',
      '(directly, or inside cifar-10-batches-bin/)',
    ],
    downloads: [
      {
        file: 'cifar-10-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
        bytes: 170052171,
        extract: 'tar.gz',
      },
    ],
    aptPackage: null,
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: null,
  },
  cifar100: {
    name: 'cifar100',
    title: 'CIFAR-100',
    description: 'Krizhevsky 32x32 colour images of 100 fine classes; 50,000 train / 10,000 test (binary version).',
    format: 'cifar100',
    height: 32,
    width: 32,
    channels: 3,
    numClasses: 100,
    trainSize: 50000,
    testSize: 10000,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
    flipOk: true,
    classNames: CIFAR100_FINE,
    files: ['train.bin', 'test.bin', '(directly, or inside cifar-100-binary/)'],
    downloads: [
      {
        file: 'cifar-100-binary.tar.gz',
        urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
        md5: '03b5dce01913d631647c71ecec9e9cb8',
        bytes: 168513733,
        extract: 'tar.gz',
      },
    ],
    aptPackage: null,
    homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
    license: null,
  },
  imagefolder: {
    name: 'imagefolder',
    title: 'Image folder',
    description: 'Your own ImageNet-style folder: train/<class>/*.jpg|png and val/<class>/ (or test/); resized to data.image_size (default 224).',
    format: 'imagefolder',
    height: null,
    width: null,
    channels: 3,
    numClasses: null,
    trainSize: null,
    testSize: null,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    flipOk: true,
    classNames: null,
    files: ['train/<class>/*.{jpg,jpeg,png}', 'val/<class>/*.{jpg,jpeg,png} (or test/)'],
    downloads: [],
    aptPackage: null,
    homepage: null,
    license: null,
  },
  shards: {
    name: 'shards',
    title: 'Tar shards',
    description:
      'Tar shards in the WebDataset convention (KEY.jpg + KEY.cls), streamed: data.shards {train, eval} (brace patterns or folders), or data.dir holding pwlu data shard output.',
    format: 'shards',
    height: null,
    width: null,
    channels: 3,
    numClasses: null,
    trainSize: null,
    testSize: null,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    flipOk: true,
    classNames: null,
    files: ['index.json (written by pwlu data shard)', 'train-{000000..N}.tar', 'eval-{000000..M}.tar'],
    downloads: [],
    aptPackage: null,
    homepage: null,
    license: null,
  },
  coco: {
    name: 'coco',
    title: 'COCO (detection)',
    description:
      'COCO 2017 detection (task: detection): point data.dir at a download holding annotations/instances_{train,val}2017.json and train2017/, val2017/ (https://cocodataset.org/#download); val2017 is the test split, val is held out of train2017 (data.val_split).',
    format: 'coco',
    height: null,
    width: null,
    channels: 3,
    numClasses: 80,
    trainSize: 118287,
    testSize: 5000,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    flipOk: true,
    classNames: null,
    files: ['annotations/instances_train2017.json', 'annotations/instances_val2017.json', 'train2017/*.jpg', 'val2017/*.jpg'],
    downloads: [],
    aptPackage: null,
    homepage: 'https://cocodataset.org',
    license: 'CC BY 4.0 (annotations); images under their Flickr licences',
  },
  'fashion-mnist-detection': {
    name: 'fashion-mnist-detection',
    title: 'Fashion-MNIST detection (generated)',
    description:
      'A COCO-format detection set made here from Fashion-MNIST items on textured canvases (task: detection): `pwlu data make fashion-mnist-detection` writes it, deterministic by seed (sizes: the defaults; val 500).',
    format: 'coco',
    height: 128,
    width: 128,
    channels: 3,
    numClasses: 10,
    trainSize: 6000,
    testSize: 1000,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    flipOk: true,
    classNames: null,
    files: ['annotations/instances_{train,val,test}.json', '{train,val,test}/*.jpg'],
    downloads: [],
    aptPackage: null,
    homepage: null,
    license: null,
  },
  synthetic: {
    name: 'synthetic',
    title: 'Synthetic',
    description: 'Seeded oriented-stripe patterns with class tints and noise; sizes from data.synthetic. For tests and smoke runs.',
    format: 'synthetic',
    height: null,
    width: null,
    channels: null,
    numClasses: null,
    trainSize: null,
    testSize: null,
    mean: null,
    std: null,
    flipOk: false,
    classNames: null,
    files: [],
    downloads: [],
    aptPackage: null,
    homepage: null,
    license: null,
  },
};

/** Default side length for image folders when `data.image_size` is null. */
export const DEFAULT_IMAGEFOLDER_SIZE = 224;

/** Looks a dataset up by name (e.g. from `pwlu data get NAME`); an unknown name is a usage error. */
export function catalogEntry(name: string): CatalogEntry {
  const e = Object.hasOwn(CATALOG, name) ? (CATALOG as Record<string, CatalogEntry>)[name] : undefined;
  if (e === undefined) throw new UserError(`unknown dataset "${name}" (known: ${DATASETS.join(', ')})`);
  return e;
}

/** All catalogue entries in the schema's order, for `pwlu data list`. */
export function listCatalog(): CatalogEntry[] {
  return DATASETS.map((n) => CATALOG[n]);
}
