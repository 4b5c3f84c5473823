/** Exit codes documented in the README; every user-facing failure maps to one of them. */
export const ExitCode = {
  ok: 0,
  usage: 1,
  data: 2,
  backend: 3,
  diverged: 4,
  /** Writing results failed (disk full, permissions): the message names the path. */
  io: 5,
  /** A bug in pwlu itself (not the user's input or machine): please report it with PWLU_DEBUG=1's stack. */
  internal: 70,
  /** Stopped by SIGINT/SIGTERM after saving a checkpoint (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: printed as one message, no stack trace, with a documented exit code. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.usage,
  ) {
    super(message);
  }
}

/** Raised when a backend cannot be initialised or a kernel fails; exit code 3. */
export class BackendError extends UserError {
  override name = 'BackendError';
  constructor(message: string) {
    super(message, ExitCode.backend);
  }
}

/** Raised for missing, truncated or corrupt data; exit code 2. */
export class DataError extends UserError {
  override name = 'DataError';
  constructor(message: string) {
    super(message, ExitCode.data);
  }
}
