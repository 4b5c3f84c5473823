// Runs before every test file: registers pwlu's JS kernels for the cpu and wasm backends, as backend
// selection does (src/backends/select.ts), because many tests switch to `cpu` with tf.setBackend directly.
import { registerJsKernels } from '../src/backends/js-kernels/index.js';

registerJsKernels();
